//! The command line, Ceph's words: `strata osd pool create NAME PG_NUM`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strata",
    about = "Strata cluster administration",
    version,
    args_override_self = true
)]
pub struct Cli {
    /// Config file (default: $STRATA_CONF, then /etc/strata/strata.yaml).
    #[arg(long = "conf", short = 'c', global = true)]
    pub conf: Option<PathBuf>,
    /// Keyring file (default: the config's keyring).
    #[arg(long = "keyring", short = 'k', global = true)]
    pub keyring: Option<PathBuf>,
    /// Entity to act as, for the config's per-daemon section.
    #[arg(
        long = "name",
        short = 'n',
        global = true,
        default_value = "client.admin"
    )]
    pub name: String,
    /// Output format: plain or json.
    #[arg(long = "format", short = 'f', global = true)]
    pub format: Option<String>,
    /// Seconds to wait for the monitors (default: client_mon_timeout).
    #[arg(long = "connect-timeout", global = true)]
    pub timeout: Option<f64>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Cluster status: health, monitors, OSDs, PGs, recovery.
    Status,
    /// The status, then cluster events as they happen (`strata -w`).
    Watch,
    /// Health checks (`health detail` lists what each is about).
    Health { detail: Option<String> },
    /// The monitor quorum and its leader.
    #[command(name = "quorum_status")]
    QuorumStatus,
    Mon {
        #[command(subcommand)]
        cmd: MonCmd,
    },
    /// Placement groups: `pg stat`, `pg dump`.
    Pg {
        #[command(subcommand)]
        cmd: PgCmd,
    },
    /// Space used per pool.
    Df,
    Auth {
        #[command(subcommand)]
        cmd: AuthCmd,
    },
    Osd {
        #[command(subcommand)]
        cmd: OsdCmd,
    },
}

#[derive(Subcommand)]
pub enum PgCmd {
    /// One line: PGs by state, data and objects.
    Stat,
    /// Every PG with its state, counts and OSDs.
    Dump,
    /// One PG's peering state from its primary (JSON): its sets, info,
    /// past intervals, peers, missing objects and what it waits for.
    Query {
        /// The PG, as POOL.SEED (seed in hex): 1.7f
        pgid: String,
    },
}

#[derive(Subcommand)]
pub enum MonCmd {
    /// One line on the monitors.
    Stat,
}

#[derive(Subcommand)]
pub enum AuthCmd {
    /// Creates a client (or returns the existing one) and prints its keyring:
    /// `auth get-or-create client.app mon 'allow r' osd 'allow rw pool=data'`.
    GetOrCreate {
        entity: String,
        caps: Vec<String>,
        #[arg(short = 'o', long = "out-file")]
        out: Option<PathBuf>,
    },
    /// Prints an entity's keyring.
    Get {
        entity: String,
        #[arg(short = 'o', long = "out-file")]
        out: Option<PathBuf>,
    },
    Ls,
    Rm {
        entity: String,
    },
}

#[derive(Subcommand)]
pub enum OsdCmd {
    Tree,
    Dump,
    /// Each OSD's size, use, PGs and space state.
    Df,
    /// The used/total ratio past which an OSD is nearfull (a warning).
    #[command(name = "set-nearfull-ratio")]
    SetNearfullRatio {
        ratio: f64,
    },
    /// ... past which nothing is backfilled into it.
    #[command(name = "set-backfillfull-ratio")]
    SetBackfillfullRatio {
        ratio: f64,
    },
    /// ... past which writes to its PGs are refused.
    #[command(name = "set-full-ratio")]
    SetFullRatio {
        ratio: f64,
    },
    Out {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    In {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    Down {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Sets an OSD's override weight (0..1): it keeps that share of the
    /// PGs CRUSH gives it.
    Reweight {
        id: String,
        weight: f64,
    },
    /// Removes a down OSD for good (from CRUSH and the map), once it is
    /// out and its data has moved (`--force` skips those checks).
    Purge {
        id: String,
        #[arg(long = "yes-i-really-mean-it")]
        sure: bool,
        #[arg(long)]
        force: bool,
    },
    /// Sets a flag (noout, noup, nodown, ...).
    Set {
        flag: String,
    },
    Unset {
        flag: String,
    },
    /// Prints the CRUSH map (text form).
    Getcrushmap {
        #[arg(short = 'o')]
        out: Option<PathBuf>,
    },
    /// Replaces the CRUSH map with a text map.
    Setcrushmap {
        #[arg(short = 'i')]
        input: PathBuf,
    },
    Crush {
        #[command(subcommand)]
        cmd: CrushCmd,
    },
    #[command(name = "erasure-code-profile")]
    ErasureCodeProfile {
        #[command(subcommand)]
        cmd: EcCmd,
    },
    Pool {
        #[command(subcommand)]
        cmd: PoolCmd,
    },
}

#[derive(Subcommand)]
pub enum CrushCmd {
    AddBucket {
        name: String,
        bucket_type: String,
    },
    /// Moves a bucket or device: `move h1 root=default rack=r1`.
    Move {
        name: String,
        #[arg(required = true)]
        location: Vec<String>,
    },
    Reweight {
        name: String,
        weight: String,
    },
    Rm {
        name: String,
    },
    SetDeviceClass {
        class: String,
        #[arg(required = true)]
        items: Vec<String>,
    },
    Rule {
        #[command(subcommand)]
        cmd: RuleCmd,
    },
}

#[derive(Subcommand)]
pub enum RuleCmd {
    CreateReplicated {
        name: String,
        root: String,
        failure_domain: String,
        class: Option<String>,
    },
    CreateErasure {
        name: String,
        profile: Option<String>,
    },
    Rm {
        name: String,
    },
    Ls,
    Dump {
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum EcCmd {
    /// `set NAME k=4 m=2 crush-failure-domain=host`.
    Set {
        name: String,
        params: Vec<String>,
        #[arg(long)]
        force: bool,
    },
    Get {
        name: String,
    },
    Ls,
    Rm {
        name: String,
    },
}

#[derive(Subcommand)]
pub enum PoolCmd {
    /// `create NAME [PG_NUM] [replicated|erasure [PROFILE]]`.
    Create {
        name: String,
        pg_num: Option<u32>,
        kind: Option<String>,
        profile: Option<String>,
        /// CRUSH rule (default: replicated_rule, or one made for the profile).
        #[arg(long = "rule")]
        rule: Option<String>,
    },
    Ls {
        detail: Option<String>,
    },
    Get {
        name: String,
        key: String,
    },
    Set {
        name: String,
        key: String,
        value: String,
    },
    Rm {
        name: String,
        confirm: Option<String>,
        #[arg(long = "yes-i-really-really-mean-it")]
        really: bool,
    },
}
