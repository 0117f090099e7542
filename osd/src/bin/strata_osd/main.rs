//! `strata-osd`: run an OSD (`--data DIR` or `--id N`), or register a new
//! disk with the cluster (`--mkfs --data DIR`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// jemalloc keeps freed memory for reuse: recovery and client writes
/// allocate many multi-megabyte buffers, and with glibc's allocator each
/// one was fresh memory, zeroed by the kernel page by page (a quarter of
/// the OSD's CPU during recovery, measured with perf).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "strata-osd", about = "Strata OSD daemon", version)]
struct Cli {
    /// The OSD's data directory (default: osd_data for --id).
    #[arg(long = "data")]
    data: Option<PathBuf>,
    /// The OSD's id, to find its section and osd_data in the config.
    #[arg(long = "id", short = 'i')]
    id: Option<u32>,
    /// Config file (default: $STRATA_CONF, then /etc/strata/strata.yaml).
    #[arg(long = "conf", short = 'c')]
    conf: Option<PathBuf>,
    /// Register a new OSD with the monitors and create its data directory.
    #[arg(long)]
    mkfs: bool,
    /// Keyring to register with (default: the config's keyring, usually
    /// client.admin or a client with mon 'allow profile bootstrap-osd').
    #[arg(long = "keyring", short = 'k')]
    keyring: Option<PathBuf>,
    /// Override a config option: -o KEY=VALUE (repeatable).
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata-osd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let path = config::config_path(cli.conf.as_deref());
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    if cli.mkfs {
        let dir = cli.data.ok_or("--mkfs needs --data DIR")?;
        let opts =
            config::load(&path, "client.admin", &cli.overrides).map_err(|e| e.to_string())?;
        init_logging(&opts.log_level);
        let kr = cli
            .keyring
            .or(opts.keyring.clone())
            .ok_or("no keyring to register with: pass --keyring or set keyring in the config")?;
        let creds = auth::Credentials::load(&kr).map_err(|e| e.to_string())?;
        let id = rt.block_on(osd::daemon::mkfs::mkfs(&dir, &opts, &creds))?;
        println!("created osd.{id} in {}", dir.display());
        return Ok(());
    }
    let (entity, dir) = match (cli.id, cli.data) {
        (_, Some(d)) => {
            let sb = osd::daemon::superblock::OsdDir::new(&d).read_superblock()?;
            (format!("osd.{}", sb.osd_id), Some(d))
        }
        (Some(id), None) => (format!("osd.{id}"), None),
        (None, None) => return Err("give --data DIR or --id N".into()),
    };
    let opts = config::load(&path, &entity, &cli.overrides).map_err(|e| e.to_string())?;
    init_logging(&opts.log_level);
    let dir = dir.unwrap_or_else(|| opts.osd_data.clone());
    rt.block_on(osd::daemon::run(&dir, opts))
}

fn init_logging(level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
