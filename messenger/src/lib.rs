//! The messenger: how daemons and clients talk.
//!
//! Today this crate holds the frame format every message travels in
//! ([`frame`]); the QUIC transport with mutual TLS (`auth`), request/response,
//! subscriptions and fault-injection filters come with the control plane.

pub mod frame;

pub use frame::{
    decode_body, encode_frame, encode_header, split_frame, Frame, FrameError, FrameHeader, Limits,
};
