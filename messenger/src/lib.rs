//! The messenger: how daemons and clients talk.
//!
//! [`frame`] is the format every message travels in; [`transport`] moves
//! frames over QUIC with mutual TLS (`auth`): requests with replies and
//! timeouts, one-way messages, pushes to connected subscribers, the
//! sender's entity known to the handler, and a filter that tests use to
//! drop or delay traffic; a peer that cannot be reached is retried with a
//! doubling delay. [`metrics`] counts frames, bytes and errors and serves
//! a daemon's Prometheus metrics over HTTP.

pub mod frame;
pub mod metrics;
pub mod transport;

pub use frame::{
    decode_body, encode_frame, encode_header, split_frame, Frame, FrameError, FrameHeader, Limits,
};
pub use transport::{
    Filter, FilterAction, Handler, Message, Messenger, MessengerError, Outgoing, Request,
};
