//! `strata`: the admin CLI, shaped like `ceph`. It reads the config
//! (`--conf` or STRATA_CONF) for the monitors and the keyring, sends one
//! request, and prints the answer as text or, with `--format json`, as
//! JSON with Ceph's field names. Errors go to stderr and the exit status
//! is the error's errno, as Ceph's tools do.

mod args;
mod osd_df;
mod print;
mod status;
mod tree;

use std::path::PathBuf;
use std::process::ExitCode;

use args::{AuthCmd, Cli, Cmd, CrushCmd, EcCmd, MonCmd, OsdCmd, PgCmd, PoolCmd, RuleCmd};
use clap::Parser;
use client::{ClientError, MonClient};
use cluster::msg::mon::{MonCommand, MonReply, MonRequest};
use serde_json::json;

fn main() -> ExitCode {
    // `strata -w` is Ceph's spelling of `strata watch`.
    let argv = std::env::args_os().map(|a| {
        if a == "-w" || a == "--watch" {
            "watch".into()
        } else {
            a
        }
    });
    let cli = Cli::parse_from(argv);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error {}: {e}", e.code().name());
            ExitCode::from(e.errno().clamp(1, 255) as u8)
        }
    }
}

/// Output format: `plain` text or `json`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
}

async fn connect(cli: &Cli) -> Result<(std::sync::Arc<MonClient>, config::Options), ClientError> {
    let path = config::config_path(cli.conf.as_deref());
    let entity = cli.name.clone();
    let opts = config::load(&path, &entity, &[]).map_err(|e| ClientError::Config(e.to_string()))?;
    let keyring: PathBuf = cli
        .keyring
        .clone()
        .or(opts.keyring.clone())
        .ok_or_else(|| {
            ClientError::Config(format!(
                "{}: no keyring configured; pass --keyring FILE",
                path.display()
            ))
        })?;
    let creds =
        auth::Credentials::load(&keyring).map_err(|e| ClientError::Config(e.to_string()))?;
    let mut opts = opts;
    if let Some(t) = cli.timeout {
        opts.client_mon_timeout = t;
    }
    Ok((MonClient::from_options(&opts, &creds, None, None)?, opts))
}

fn done_message(d: &cluster::msg::mon::Done) {
    if !d.message.is_empty() {
        eprintln!("{}", d.message);
    }
}

async fn run(cli: Cli) -> Result<(), ClientError> {
    let fmt =
        if cli.format.as_deref() == Some("json") || cli.format.as_deref() == Some("json-pretty") {
            Format::Json
        } else {
            Format::Plain
        };
    if let Some(f) = cli.format.as_deref() {
        if !["json", "json-pretty", "plain"].contains(&f) {
            return Err(ClientError::Config(format!(
                "--format {f}: expected plain or json"
            )));
        }
    }
    let (mc, opts) = connect(&cli).await?;
    match &cli.cmd {
        Cmd::Status => status::status(&mc.status().await?, fmt),
        Cmd::Watch => status::watch(&mc, fmt).await?,
        Cmd::Health { detail } => print::health(
            &mc.status().await?,
            detail.as_deref() == Some("detail"),
            fmt,
        ),
        Cmd::QuorumStatus => print::quorum_status(&mc.status().await?, fmt),
        Cmd::Mon { cmd: MonCmd::Stat } => print::mon_stat(&mc.status().await?, fmt),
        Cmd::Pg { cmd: PgCmd::Stat } => print::pg_stat(&mc.status().await?, fmt),
        Cmd::Pg { cmd: PgCmd::Dump } => print::pg_dump(&mc.status().await?, fmt),
        Cmd::Pg {
            cmd: PgCmd::Query { pgid },
        } => {
            let pg: cluster::PgId = pgid
                .parse()
                .map_err(|e: String| ClientError::Remote(cluster::msg::RemoteError::invalid(e)))?;
            let map = mc.refresh_map().await?;
            if map.pools.get(&pg.pool).is_none_or(|p| pg.seed >= p.pg_num) {
                return Err(ClientError::Remote(cluster::msg::RemoteError::not_found(
                    format!("PG {pg} does not exist at epoch {}", map.epoch),
                )));
            }
            let rados = client::Rados::with_monclient(
                mc.clone(),
                std::time::Duration::from_secs_f64(opts.client_mon_timeout),
            )
            .await?;
            let json = rados.pg_query(pg).await?;
            let v: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| ClientError::Protocol {
                    from: "osd".into(),
                    what: e.to_string(),
                })?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or(json));
        }
        Cmd::Df => print::df(&mc.status().await?, fmt),
        Cmd::Auth { cmd } => auth(&mc, cmd, fmt).await?,
        Cmd::Osd { cmd } => osd(&mc, cmd, fmt, &opts).await?,
    }
    Ok(())
}

async fn simple(mc: &MonClient, cmd: MonCommand) -> Result<(), ClientError> {
    let d = mc.command(cmd).await?;
    done_message(&d);
    Ok(())
}

async fn set_ratio(mc: &MonClient, which: &str, ratio: f64) -> Result<(), ClientError> {
    simple(
        mc,
        MonCommand::OsdSetRatio {
            which: which.to_string(),
            ratio,
        },
    )
    .await
}

fn write_out(out: Option<&PathBuf>, text: &str) -> Result<(), ClientError> {
    match out {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| ClientError::Config(format!("{}: {e}", p.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

async fn auth(mc: &MonClient, cmd: &AuthCmd, fmt: Format) -> Result<(), ClientError> {
    match cmd {
        AuthCmd::GetOrCreate { entity, caps, out } => {
            let d = mc
                .command(MonCommand::AuthGetOrCreate {
                    entity: entity.clone(),
                    caps: caps
                        .chunks(2)
                        .map(|p| match p {
                            [s, g] => format!("{s} '{g}'"),
                            [s] => s.clone(),
                            _ => String::new(),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                })
                .await?;
            write_out(out.as_ref(), d.keyring.as_deref().unwrap_or(""))
        }
        AuthCmd::Get { entity, out } => match mc
            .request(&MonRequest::AuthGet {
                entity: entity.clone(),
            })
            .await?
        {
            MonReply::Done(d) => write_out(out.as_ref(), d.keyring.as_deref().unwrap_or("")),
            MonReply::Error(e) => Err(ClientError::Remote(e)),
            other => Err(ClientError::Protocol {
                from: "monitor".into(),
                what: format!("{other:?}"),
            }),
        },
        AuthCmd::Ls => match mc.request(&MonRequest::AuthList).await? {
            MonReply::Auth(list) => {
                if fmt == Format::Json {
                    let v: Vec<_> = list
                        .iter()
                        .map(|a| json!({"entity": a.entity, "caps": a.caps}))
                        .collect();
                    print::json(&json!({ "auth_dump": v }));
                } else {
                    for a in list {
                        println!("{}\n\tcaps: {}", a.entity, a.caps);
                    }
                }
                Ok(())
            }
            MonReply::Error(e) => Err(ClientError::Remote(e)),
            other => Err(ClientError::Protocol {
                from: "monitor".into(),
                what: format!("{other:?}"),
            }),
        },
        AuthCmd::Rm { entity } => {
            simple(
                mc,
                MonCommand::AuthRm {
                    entity: entity.clone(),
                },
            )
            .await
        }
    }
}

/// `osd purge`: refuses unless the operator confirms, and (without
/// `--force`) unless the OSD is out and every PG is active+clean, so the
/// last copy of anything is never on the OSD removed.
async fn purge(mc: &MonClient, id: u32, sure: bool, force: bool) -> Result<(), ClientError> {
    if !sure {
        return Err(ClientError::Config(format!(
            "purging osd.{id} removes it from CRUSH and the map for good; pass --yes-i-really-mean-it"
        )));
    }
    let v = mc.status().await?;
    let Some(o) = v.osdmap.osds.get(&id) else {
        return Err(ClientError::Config(format!("osd.{id} does not exist")));
    };
    if !force {
        if o.reweight != 0 {
            return Err(ClientError::Config(format!(
                "osd.{id} is still in: mark it out (osd out {id}) and let its data move first, or pass --force"
            )));
        }
        let pgs = v.pgs_by_state.iter().map(|(_, n)| *n).sum::<u32>();
        let clean = v
            .pgs_by_state
            .iter()
            .filter(|(s, _)| s == "active+clean")
            .map(|(_, n)| *n)
            .sum::<u32>();
        if clean != pgs {
            return Err(ClientError::Config(format!(
                "osd.{id}: {} of {pgs} PGs are not active+clean yet (data is still moving); wait, or pass --force",
                pgs - clean
            )));
        }
    }
    simple(mc, MonCommand::OsdRm { ids: vec![id] }).await
}

fn parse_ids(ids: &[String]) -> Result<Vec<u32>, ClientError> {
    ids.iter()
        .map(|s| {
            s.strip_prefix("osd.")
                .unwrap_or(s)
                .parse::<u32>()
                .map_err(|_| ClientError::Config(format!("'{s}' is not an OSD id (N or osd.N)")))
        })
        .collect()
}

fn weight_16_16(s: &str, what: &str) -> Result<u32, ClientError> {
    let w: f64 = s
        .parse()
        .ok()
        .filter(|w: &f64| w.is_finite() && *w >= 0.0 && *w <= 65535.0)
        .ok_or_else(|| ClientError::Config(format!("{what}: '{s}' is not a weight (0..65535)")))?;
    Ok((w * 65536.0).round() as u32)
}

async fn osd(
    mc: &MonClient,
    cmd: &OsdCmd,
    fmt: Format,
    opts: &config::Options,
) -> Result<(), ClientError> {
    match cmd {
        OsdCmd::Tree => tree::print(&mc.status().await?.osdmap, fmt)?,
        OsdCmd::Dump => print::osd_dump(&mc.status().await?.osdmap, fmt),
        OsdCmd::Df => osd_df::print(&mc.status().await?, fmt)?,
        OsdCmd::SetNearfullRatio { ratio } => set_ratio(mc, "nearfull", *ratio).await?,
        OsdCmd::SetBackfillfullRatio { ratio } => set_ratio(mc, "backfillfull", *ratio).await?,
        OsdCmd::SetFullRatio { ratio } => set_ratio(mc, "full", *ratio).await?,
        OsdCmd::Out { ids } => {
            simple(
                mc,
                MonCommand::OsdOut {
                    ids: parse_ids(ids)?,
                },
            )
            .await?
        }
        OsdCmd::In { ids } => {
            simple(
                mc,
                MonCommand::OsdIn {
                    ids: parse_ids(ids)?,
                },
            )
            .await?
        }
        OsdCmd::Down { ids } => {
            simple(
                mc,
                MonCommand::OsdDown {
                    ids: parse_ids(ids)?,
                },
            )
            .await?
        }
        OsdCmd::Reweight { id, weight } => {
            let id = parse_ids(std::slice::from_ref(id))?[0];
            simple(
                mc,
                MonCommand::OsdReweight {
                    id,
                    weight: *weight,
                },
            )
            .await?
        }
        OsdCmd::Purge { id, sure, force } => {
            let id = parse_ids(std::slice::from_ref(id))?[0];
            purge(mc, id, *sure, *force).await?
        }
        OsdCmd::Rm { ids } => {
            simple(
                mc,
                MonCommand::OsdRm {
                    ids: parse_ids(ids)?,
                },
            )
            .await?
        }
        OsdCmd::Set { flag } => {
            simple(
                mc,
                MonCommand::SetFlag {
                    flag: flag.clone(),
                    on: true,
                },
            )
            .await?
        }
        OsdCmd::Unset { flag } => {
            simple(
                mc,
                MonCommand::SetFlag {
                    flag: flag.clone(),
                    on: false,
                },
            )
            .await?
        }
        OsdCmd::Getcrushmap { out } => {
            write_out(out.as_ref(), &mc.status().await?.osdmap.crush_text)?
        }
        OsdCmd::Setcrushmap { input } => {
            let text = std::fs::read_to_string(input)
                .map_err(|e| ClientError::Config(format!("{}: {e}", input.display())))?;
            simple(mc, MonCommand::SetCrushMap { text }).await?
        }
        OsdCmd::Crush { cmd } => crush(mc, cmd, fmt).await?,
        OsdCmd::ErasureCodeProfile { cmd } => ec(mc, cmd, fmt).await?,
        OsdCmd::Pool { cmd } => pool(mc, cmd, fmt, opts).await?,
    }
    Ok(())
}

async fn crush(mc: &MonClient, cmd: &CrushCmd, fmt: Format) -> Result<(), ClientError> {
    match cmd {
        CrushCmd::AddBucket { name, bucket_type } => {
            simple(
                mc,
                MonCommand::CrushAddBucket {
                    name: name.clone(),
                    bucket_type: bucket_type.clone(),
                },
            )
            .await
        }
        CrushCmd::Move { name, location } => {
            let location = location
                .iter()
                .map(|l| {
                    l.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| {
                            ClientError::Config(format!("location '{l}': expected TYPE=NAME"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            simple(
                mc,
                MonCommand::CrushMove {
                    name: name.clone(),
                    location,
                },
            )
            .await
        }
        CrushCmd::Reweight { name, weight } => {
            let weight = weight_16_16(weight, name)?;
            simple(
                mc,
                MonCommand::CrushReweight {
                    name: name.clone(),
                    weight,
                },
            )
            .await
        }
        CrushCmd::Rm { name } => simple(mc, MonCommand::CrushRm { name: name.clone() }).await,
        CrushCmd::SetDeviceClass { class, items } => {
            simple(
                mc,
                MonCommand::CrushSetDeviceClass {
                    class: class.clone(),
                    items: items.clone(),
                },
            )
            .await
        }
        CrushCmd::Rule { cmd } => match cmd {
            RuleCmd::CreateReplicated {
                name,
                root,
                failure_domain,
                class,
            } => {
                simple(
                    mc,
                    MonCommand::CrushRuleCreateReplicated {
                        name: name.clone(),
                        root: root.clone(),
                        failure_domain: failure_domain.clone(),
                        class: class.clone(),
                    },
                )
                .await
            }
            RuleCmd::CreateErasure { name, profile } => {
                simple(
                    mc,
                    MonCommand::CrushRuleCreateErasure {
                        name: name.clone(),
                        profile: profile.clone().unwrap_or_else(|| "default".into()),
                    },
                )
                .await
            }
            RuleCmd::Rm { name } => {
                simple(mc, MonCommand::CrushRuleRm { name: name.clone() }).await
            }
            RuleCmd::Ls => {
                let map = mc.status().await?.osdmap;
                print::rule_ls(&map, fmt)
            }
            RuleCmd::Dump { name } => {
                let map = mc.status().await?.osdmap;
                print::rule_dump(&map, name.as_deref(), fmt)
            }
        },
    }
}

async fn ec(mc: &MonClient, cmd: &EcCmd, fmt: Format) -> Result<(), ClientError> {
    match cmd {
        EcCmd::Set {
            name,
            params,
            force,
        } => {
            let params = params
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| ClientError::Config(format!("'{p}': expected KEY=VALUE")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            simple(
                mc,
                MonCommand::EcProfileSet {
                    name: name.clone(),
                    params,
                    force: *force,
                },
            )
            .await
        }
        EcCmd::Get { name } => {
            let map = mc.status().await?.osdmap;
            let p = map.ec_profiles.get(name).ok_or_else(|| {
                ClientError::Remote(cluster::msg::RemoteError::not_found(format!(
                    "erasure-code-profile {name} does not exist"
                )))
            })?;
            if fmt == Format::Json {
                print::json(&json!(p));
            } else {
                for (k, v) in p {
                    println!("{k}={v}");
                }
            }
            Ok(())
        }
        EcCmd::Ls => {
            let map = mc.status().await?.osdmap;
            let names: Vec<&String> = map.ec_profiles.keys().collect();
            if fmt == Format::Json {
                print::json(&json!(names));
            } else {
                for n in names {
                    println!("{n}");
                }
            }
            Ok(())
        }
        EcCmd::Rm { name } => simple(mc, MonCommand::EcProfileRm { name: name.clone() }).await,
    }
}

async fn pool(
    mc: &MonClient,
    cmd: &PoolCmd,
    fmt: Format,
    opts: &config::Options,
) -> Result<(), ClientError> {
    match cmd {
        PoolCmd::Create {
            name,
            pg_num,
            kind,
            profile,
            rule,
        } => {
            let pg_num = pg_num.unwrap_or(0);
            let erasure_profile = match kind.as_deref() {
                None | Some("replicated") => None,
                Some("erasure") => Some(profile.clone().unwrap_or_else(|| "default".into())),
                Some(other) => {
                    return Err(ClientError::Config(format!(
                        "pool type '{other}': expected replicated or erasure"
                    )))
                }
            };
            let pg_num = if pg_num == 0 {
                opts.osd_pool_default_pg_num
            } else {
                pg_num
            };
            simple(
                mc,
                MonCommand::PoolCreate {
                    name: name.clone(),
                    pg_num,
                    erasure_profile,
                    crush_rule: rule.clone(),
                },
            )
            .await
        }
        PoolCmd::Ls { detail } => {
            let map = mc.status().await?.osdmap;
            print::pool_ls(&map, detail.as_deref() == Some("detail"), fmt);
            Ok(())
        }
        PoolCmd::Get { name, key } => {
            let map = mc.status().await?.osdmap;
            print::pool_get(&map, name, key, fmt)
        }
        PoolCmd::Set { name, key, value } => {
            simple(
                mc,
                MonCommand::PoolSet {
                    name: name.clone(),
                    key: key.clone(),
                    value: value.clone(),
                },
            )
            .await
        }
        PoolCmd::Rm {
            name,
            confirm,
            really,
        } => {
            simple(
                mc,
                MonCommand::PoolRm {
                    name: name.clone(),
                    confirm: confirm.clone().unwrap_or_default(),
                    really: *really,
                },
            )
            .await
        }
    }
}
