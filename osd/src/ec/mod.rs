//! Erasure coding for EC pools: [`codec`] turns k data shards into m
//! parity shards and rebuilds any m lost ones (Reed-Solomon over GF(2^8),
//! pinned by golden vectors so that shard bytes on disk never change
//! silently); [`stripe`] lays an object's bytes out across the k data
//! shards in `stripe_unit` chunks and back. Both are pure: no I/O, no
//! async; the PG layer decides what to read, write and rebuild.

pub mod codec;
pub mod stripe;

pub use codec::{codec_for, EcError, ErasureCodec, CODEC_ID};
pub use stripe::StripeLayout;
