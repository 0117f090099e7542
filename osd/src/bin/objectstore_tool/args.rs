//! Command line of `strata-objectstore-tool`.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "strata-objectstore-tool",
    version,
    about = "Inspect, repair and move the data of a stopped Strata OSD (in the spirit of ceph-objectstore-tool)."
)]
pub struct Args {
    /// The OSD's data directory.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_path: Option<String>,
    /// Namespace of the OBJ arguments.
    #[arg(
        long,
        short = 'N',
        value_name = "NS",
        default_value = "",
        global = true
    )]
    pub namespace: String,
    /// Objects up to this size keep their data inline in RocksDB; larger
    /// ones get a blob file (bytes; K, M suffixes allowed).
    #[arg(long, value_name = "BYTES", global = true, value_parser = crate::bench::parse_size)]
    pub inline_max: Option<u64>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new, empty object store in --data-path.
    Mkfs,
    /// List the PGs (collections) in the store.
    ListPgs,
    /// List objects, one JSON line each, of one PG or of all.
    List {
        #[arg(long)]
        pgid: Option<String>,
    },
    /// Print a PG's info as JSON.
    Info {
        #[arg(long)]
        pgid: String,
    },
    /// Print a PG's log as JSON lines, oldest first.
    DumpLog {
        #[arg(long)]
        pgid: String,
    },
    /// Create an empty PG.
    CreatePg {
        #[arg(long)]
        pgid: String,
    },
    /// Remove a PG and everything in it.
    RemovePg {
        #[arg(long)]
        pgid: String,
    },
    /// Write an object's data to FILE (- for standard output).
    GetBytes {
        #[arg(long)]
        pgid: String,
        obj: String,
        file: String,
    },
    /// Replace an object's data with FILE (- for standard input).
    SetBytes {
        #[arg(long)]
        pgid: String,
        obj: String,
        file: String,
    },
    /// Remove an object.
    Remove {
        #[arg(long)]
        pgid: String,
        obj: String,
    },
    /// Print an object's size, mtime and version.
    Stat {
        #[arg(long)]
        pgid: String,
        obj: String,
    },
    /// Write an xattr's value to standard output.
    GetAttr {
        #[arg(long)]
        pgid: String,
        obj: String,
        name: String,
    },
    /// Set an xattr from FILE (- for standard input).
    SetAttr {
        #[arg(long)]
        pgid: String,
        obj: String,
        name: String,
        file: String,
    },
    RmAttr {
        #[arg(long)]
        pgid: String,
        obj: String,
        name: String,
    },
    /// List an object's xattr names.
    ListAttrs {
        #[arg(long)]
        pgid: String,
        obj: String,
    },
    /// Write an omap value to standard output.
    GetOmap {
        #[arg(long)]
        pgid: String,
        obj: String,
        key: String,
    },
    /// Set an omap value from FILE (- for standard input).
    SetOmap {
        #[arg(long)]
        pgid: String,
        obj: String,
        key: String,
        file: String,
    },
    RmOmap {
        #[arg(long)]
        pgid: String,
        obj: String,
        key: String,
    },
    /// List an object's omap keys.
    ListOmap {
        #[arg(long)]
        pgid: String,
        obj: String,
    },
    GetOmaphdr {
        #[arg(long)]
        pgid: String,
        obj: String,
    },
    SetOmaphdr {
        #[arg(long)]
        pgid: String,
        obj: String,
        file: String,
    },
    /// Check metadata consistency (and with --deep every checksum); exits 1
    /// and lists what is damaged if anything is.
    Fsck {
        #[arg(long)]
        deep: bool,
    },
    /// Write a whole PG to FILE.
    Export {
        #[arg(long)]
        pgid: String,
        #[arg(long)]
        file: String,
    },
    /// Create a PG from an export FILE.
    Import {
        #[arg(long)]
        file: String,
    },
    /// Random mixed operations with intent/ack logging, for crash tests.
    Stress(crate::stress::StressArgs),
    /// Synced write transactions (write_full + xattr + PG-log entry) on
    /// fresh objects over several PGs, with progress each second.
    Bench(crate::bench::BenchArgs),
}
