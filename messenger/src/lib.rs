//! The messenger: how daemons and clients talk.
//!
//! [`frame`] is the format every message travels in; [`transport`] moves
//! frames over QUIC with mutual TLS (`auth`): request/response with
//! timeouts, the caller's entity known to the handler, and a filter that
//! tests use to drop or delay traffic. One-way messages, subscriptions and
//! reconnect backoff come with the control plane.

pub mod frame;
pub mod transport;

pub use frame::{
    decode_body, encode_frame, encode_header, split_frame, Frame, FrameError, FrameHeader, Limits,
};
pub use transport::{Filter, FilterAction, Handler, Message, Messenger, MessengerError, Request};
