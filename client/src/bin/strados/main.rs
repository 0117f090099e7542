//! `strados`: objects from the command line, as Ceph's `rados` does it:
//! `strados -p POOL [-N NS] put OBJ FILE`, `get`, `ls`, xattrs, omap, and
//! `bench`. Errors name the object or pool and exit non-zero (the errno).

mod bench;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use client::{ClientError, IoCtx, Rados};

#[derive(Parser)]
#[command(
    name = "strados",
    about = "Strata object tool (rados-style)",
    version,
    args_override_self = true
)]
struct Cli {
    /// Config file (default: $STRATA_CONF, then /etc/strata/strata.yaml).
    #[arg(long = "conf", short = 'c', global = true)]
    conf: Option<PathBuf>,
    #[arg(long = "keyring", short = 'k', global = true)]
    keyring: Option<PathBuf>,
    /// The pool.
    #[arg(long = "pool", short = 'p', global = true)]
    pool: Option<String>,
    /// The namespace (default: the default namespace).
    #[arg(long = "namespace", short = 'N', global = true)]
    ns: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes FILE (or - for stdin) as the whole object.
    Put {
        obj: String,
        file: String,
    },
    /// Reads the object into FILE (or - for stdout).
    Get {
        obj: String,
        file: String,
    },
    /// Appends FILE (or -) to the object.
    Append {
        obj: String,
        file: String,
    },
    Rm {
        #[arg(required = true)]
        objs: Vec<String>,
    },
    /// Lists the pool's objects (every namespace with --all).
    Ls {
        #[arg(long)]
        all: bool,
    },
    Stat {
        obj: String,
    },
    Truncate {
        obj: String,
        size: u64,
    },
    Setxattr {
        obj: String,
        name: String,
        value: String,
    },
    Getxattr {
        obj: String,
        name: String,
    },
    Rmxattr {
        obj: String,
        name: String,
    },
    Listxattr {
        obj: String,
    },
    Setomapval {
        obj: String,
        key: String,
        value: String,
    },
    Getomapval {
        obj: String,
        key: String,
    },
    Rmomapkey {
        obj: String,
        key: String,
    },
    Listomapkeys {
        obj: String,
    },
    Listomapvals {
        obj: String,
    },
    Lspools,
    /// Objects and bytes per pool (from the OSDs' PG reports).
    Df,
    /// `bench SECONDS write|seq|rand [-b SIZE] [-t CONCURRENCY] [--objects N] [--no-cleanup]`.
    Bench {
        seconds: u64,
        mode: String,
        /// Object size (bytes, or with K/M suffix).
        #[arg(short = 'b', default_value = "4M")]
        size: String,
        #[arg(short = 't', default_value_t = 16)]
        concurrency: usize,
        /// write: overwrite N objects in turn instead of creating one per
        /// write (a fixed working set).
        #[arg(long = "objects")]
        objects: Option<u64>,
        #[arg(long = "no-cleanup")]
        no_cleanup: bool,
    },
    /// Removes the objects a `bench write --no-cleanup` left.
    Cleanup,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strados: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error {}: {e}", e.code().name());
            ExitCode::from(e.errno().clamp(1, 255) as u8)
        }
    }
}

fn read_input(file: &str) -> Result<Vec<u8>, ClientError> {
    let mut buf = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| ClientError::Config(format!("stdin: {e}")))?;
    } else {
        buf = std::fs::read(file).map_err(|e| ClientError::Config(format!("{file}: {e}")))?;
    }
    Ok(buf)
}

fn write_output(file: &str, data: &[u8]) -> Result<(), ClientError> {
    if file == "-" {
        std::io::stdout()
            .write_all(data)
            .map_err(|e| ClientError::Config(format!("stdout: {e}")))
    } else {
        std::fs::write(file, data).map_err(|e| ClientError::Config(format!("{file}: {e}")))
    }
}

/// Names the object in errors from the cluster.
fn about(obj: &str, pool: &IoCtx) -> impl Fn(ClientError) -> ClientError {
    let obj = obj.to_string();
    let pool = pool.pool_name().to_string();
    move |e| match e {
        ClientError::Remote(mut r) => {
            if !r.message.contains(&obj) {
                r.message = format!("{obj} (pool '{pool}'): {}", r.message);
            }
            ClientError::Remote(r)
        }
        other => other,
    }
}

async fn run(cli: Cli) -> Result<(), ClientError> {
    let conf = config::config_path(cli.conf.as_deref());
    let rados = Rados::connect(&conf, cli.keyring.as_deref()).await?;
    if let Cmd::Lspools = cli.cmd {
        for (_, name) in rados.list_pools().await? {
            println!("{name}");
        }
        return Ok(());
    }
    if let Cmd::Df = cli.cmd {
        println!(
            "{:<20} {:>14} {:>10} {:>8}",
            "POOL_NAME", "USED", "OBJECTS", "COPIES"
        );
        for u in rados.df().await? {
            println!(
                "{:<20} {:>14} {:>10} {:>8}",
                u.name,
                u.used,
                u.objects,
                u.objects * u.copies
            );
        }
        return Ok(());
    }
    let pool_name = cli
        .pool
        .clone()
        .ok_or_else(|| ClientError::Config("this command needs a pool: -p POOL".into()))?;
    let mut pool = rados.pool(&pool_name).await?;
    if let Some(ns) = &cli.ns {
        pool.set_namespace(ns);
    }
    let p = &pool;
    match cli.cmd {
        Cmd::Lspools | Cmd::Df => unreachable!("handled above"),
        Cmd::Put { obj, file } => {
            let data = read_input(&file)?;
            p.write_full(&obj, &data).await.map_err(about(&obj, p))?;
        }
        Cmd::Get { obj, file } => {
            let data = p.read(&obj, 0, 0).await.map_err(about(&obj, p))?;
            write_output(&file, &data)?;
        }
        Cmd::Append { obj, file } => {
            let data = read_input(&file)?;
            p.append(&obj, &data).await.map_err(about(&obj, p))?;
        }
        Cmd::Rm { objs } => {
            for obj in objs {
                p.remove(&obj).await.map_err(about(&obj, p))?;
            }
        }
        Cmd::Ls { all } => {
            for (ns, name) in p.list_objects(all).await? {
                if all && !ns.is_empty() {
                    println!("{ns}\t{name}");
                } else {
                    println!("{name}");
                }
            }
        }
        Cmd::Stat { obj } => {
            let st = p.stat(&obj).await.map_err(about(&obj, p))?;
            println!(
                "{}/{} mtime {}.{:09}, size {}, version {}.{}",
                pool_name,
                obj,
                st.mtime_ns / 1_000_000_000,
                st.mtime_ns % 1_000_000_000,
                st.size,
                st.version.epoch,
                st.version.counter
            );
        }
        Cmd::Truncate { obj, size } => {
            p.truncate(&obj, size).await.map_err(about(&obj, p))?;
        }
        Cmd::Setxattr { obj, name, value } => {
            p.set_xattr(&obj, &name, value.as_bytes())
                .await
                .map_err(about(&obj, p))?;
        }
        Cmd::Getxattr { obj, name } => {
            let v = p.get_xattr(&obj, &name).await.map_err(about(&obj, p))?;
            write_output("-", &v)?;
        }
        Cmd::Rmxattr { obj, name } => {
            p.rm_xattr(&obj, &name).await.map_err(about(&obj, p))?;
        }
        Cmd::Listxattr { obj } => {
            for (k, _) in p.list_xattrs(&obj).await.map_err(about(&obj, p))? {
                println!("{k}");
            }
        }
        Cmd::Setomapval { obj, key, value } => {
            p.omap_set(&obj, &[(&key, value.as_bytes())])
                .await
                .map_err(about(&obj, p))?;
        }
        Cmd::Getomapval { obj, key } => {
            let got = p
                .omap_get_keys(&obj, &[&key])
                .await
                .map_err(about(&obj, p))?;
            let (_, v) = got.into_iter().next().ok_or_else(|| {
                ClientError::Remote(cluster::msg::RemoteError::not_found(format!(
                    "{obj} (pool '{pool_name}') has no omap key '{key}'"
                )))
            })?;
            write_output("-", &v)?;
            println!();
        }
        Cmd::Rmomapkey { obj, key } => {
            p.omap_rm_keys(&obj, &[&key])
                .await
                .map_err(about(&obj, p))?;
        }
        Cmd::Listomapkeys { obj } => list_omap(p, &obj, false).await?,
        Cmd::Listomapvals { obj } => list_omap(p, &obj, true).await?,
        Cmd::Bench {
            seconds,
            mode,
            size,
            concurrency,
            objects,
            no_cleanup,
        } => {
            let size = bench::parse_size(&size)?;
            let opts = bench::Opts {
                seconds,
                size,
                concurrency,
                objects,
                no_cleanup,
            };
            bench::run(p, &mode, &opts).await?;
        }
        Cmd::Cleanup => bench::cleanup(p).await?,
    }
    Ok(())
}

async fn list_omap(p: &IoCtx, obj: &str, vals: bool) -> Result<(), ClientError> {
    let mut after = String::new();
    loop {
        let (entries, more) = p
            .omap_get_range(obj, &after, "", 1000)
            .await
            .map_err(about(obj, p))?;
        for (k, v) in &entries {
            if vals {
                println!(
                    "{k}\nvalue ({} bytes) :\n{}",
                    v.len(),
                    String::from_utf8_lossy(v)
                );
            } else {
                println!("{k}");
            }
        }
        match entries.last() {
            Some((k, _)) if more => after = k.clone(),
            _ => return Ok(()),
        }
    }
}
