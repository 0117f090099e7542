//! `strata-mon`: run a monitor, create its store (`--mkfs`), or create a
//! new cluster's identity and config (`bootstrap`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use auth::{ClusterCa, EntityName};
use clap::{Parser, Subcommand};
use monitor::store::{write_private, MonDir};

#[derive(Parser)]
#[command(name = "strata-mon", about = "Strata monitor daemon", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// This monitor's name (its key in mon_host).
    #[arg(long = "id", short = 'i')]
    id: Option<String>,
    /// Config file (default: $STRATA_CONF, then /etc/strata/strata.yaml).
    #[arg(long = "conf", short = 'c')]
    conf: Option<PathBuf>,
    /// Create this monitor's data directory and exit.
    #[arg(long)]
    mkfs: bool,
    /// Override a config option: -o KEY=VALUE (repeatable).
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a new cluster: fsid, CA, admin keyring and config file.
    Bootstrap {
        /// Where to write the config; the CA and admin keyring go beside it.
        #[arg(long = "conf", short = 'c')]
        conf: PathBuf,
        /// A monitor: NAME=IP:PORT (repeat for 3 or 5).
        #[arg(long = "mon", required = true)]
        mons: Vec<String>,
        /// Extra config lines: KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Some(Cmd::Bootstrap { conf, mons, set }) => bootstrap(&conf, &mons, &set),
        None => run(cli.id, cli.conf, cli.mkfs, cli.overrides),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata-mon: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    id: Option<String>,
    conf: Option<PathBuf>,
    mkfs: bool,
    overrides: Vec<String>,
) -> Result<(), String> {
    let id = id.ok_or("--id NAME is required")?;
    let path = config::config_path(conf.as_deref());
    let opts = config::load(&path, &format!("mon.{id}"), &overrides).map_err(|e| e.to_string())?;
    init_logging(&opts.log_level);
    if mkfs {
        let admin_opts =
            config::load(&path, "client.admin", &overrides).map_err(|e| e.to_string())?;
        let kr = admin_opts
            .keyring
            .ok_or("the config names no keyring for client.admin (keyring: ...)")?;
        let admin = auth::Credentials::load(&kr).map_err(|e| e.to_string())?;
        MonDir::new(&opts.mon_data)
            .mkfs(&id, &opts, &admin)
            .map_err(|e| e.to_string())?;
        println!("created mon.{id} in {}", opts.mon_data.display());
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(monitor::daemon::run(&id, opts))
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},openraft=warn")));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

fn bootstrap(conf: &Path, mons: &[String], set: &[String]) -> Result<(), String> {
    if conf.exists() {
        return Err(format!(
            "{}: already exists; refusing to make a second cluster over it",
            conf.display()
        ));
    }
    let dir = conf
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut yaml = String::new();
    let fsid = auth::random_uuid();
    yaml.push_str(&format!("fsid: {fsid}\nmon_host:\n"));
    for m in mons {
        let (name, addr) = m
            .split_once('=')
            .ok_or_else(|| format!("--mon '{m}': expected NAME=IP:PORT"))?;
        EntityName::mon(name);
        addr.parse::<std::net::SocketAddr>()
            .map_err(|_| format!("--mon '{m}': '{addr}' is not IP:PORT"))?;
        yaml.push_str(&format!("  {name}: {addr}\n"));
    }
    yaml.push_str("keyring: client.admin.keyring\nca_cert: ca.crt\nca_key: ca.key\n");
    for s in set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--set '{s}': expected KEY=VALUE"))?;
        yaml.push_str(&format!("{k}: {v}\n"));
    }
    // Check the file we are about to write is a valid config.
    config::from_text(&yaml, &conf.display().to_string(), dir, "mon.check", &[])
        .map_err(|e| e.to_string())?;
    let ca = ClusterCa::generate(&fsid).map_err(|e| e.to_string())?;
    write_private(&dir.join("ca.crt"), ca.cert_pem().as_bytes()).map_err(|e| e.to_string())?;
    write_private(&dir.join("ca.key"), ca.key_pem().as_bytes()).map_err(|e| e.to_string())?;
    let admin = ca
        .issue(&EntityName::client("admin"))
        .map_err(|e| e.to_string())?;
    admin
        .save(&dir.join("client.admin.keyring"))
        .map_err(|e| e.to_string())?;
    std::fs::write(conf, yaml).map_err(|e| format!("{}: {e}", conf.display()))?;
    println!(
        "created cluster {fsid}: config {}, admin keyring and CA beside it",
        conf.display()
    );
    Ok(())
}
