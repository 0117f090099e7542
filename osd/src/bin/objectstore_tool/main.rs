//! `strata-objectstore-tool --data-path DIR COMMAND`: operate on a stopped
//! OSD's object store: list and inspect PGs and objects, get and set data,
//! xattrs and omap, check consistency, move PGs between stores, and measure
//! the store's write path.

mod args;
mod bench;
mod stress;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use osd::store::{
    export, CollectionId, ObjectId, ObjectStore, Op, RocksStore, StoreOptions, Transaction, Version,
};

use args::{Args, Command};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("strata-objectstore-tool: {msg}");
            ExitCode::FAILURE
        }
    }
}

type CliResult<T> = Result<T, String>;

fn pgid(s: &str) -> CliResult<CollectionId> {
    s.parse().map_err(|e: osd::store::StoreError| e.to_string())
}

fn read_input(file: &str) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading standard input: {e}"))?;
    } else {
        buf = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    }
    Ok(buf)
}

fn write_output(file: &str, data: &[u8]) -> CliResult<()> {
    if file == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(data)
            .and_then(|_| out.flush())
            .map_err(|e| format!("writing standard output: {e}"))
    } else {
        std::fs::write(file, data).map_err(|e| format!("cannot write {file}: {e}"))
    }
}

fn print_json(v: serde_json::Value) {
    println!("{v}");
}

/// Applies one op without changing the object's version (a repair-tool
/// edit, like ceph-objectstore-tool's).
fn edit(store: &RocksStore, c: CollectionId, op: Op) -> CliResult<()> {
    let version = store
        .stat(&c, op.object())
        .map(|s| s.version)
        .unwrap_or(Version::ZERO);
    store
        .submit(Transaction::new(c, version).op(op))
        .map_err(|e| e.to_string())
}

fn run(a: Args) -> CliResult<ExitCode> {
    let Some(path) = a.data_path.as_deref() else {
        return Err("--data-path DIR is required".into());
    };
    let path = Path::new(path);
    let mut opts = StoreOptions::default();
    if let Some(m) = a.inline_max {
        opts.inline_max = m;
    }
    if let Command::Mkfs = a.command {
        let s = RocksStore::mkfs(path, opts).map_err(|e| e.to_string())?;
        println!(
            "created object store {} (fsid {})",
            path.display(),
            s.fsid()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Bench(b) = &a.command {
        return bench::run(path, b, opts);
    }
    if let Command::Stress(s) = &a.command {
        return stress::run(path, s, opts);
    }
    let store = RocksStore::open(path, opts).map_err(|e| e.to_string())?;
    let s = &store;
    let oid = |name: &str| ObjectId::new(a.namespace.clone(), name);
    let e = |e: osd::store::StoreError| e.to_string();
    match a.command {
        Command::Mkfs | Command::Bench(_) | Command::Stress(_) => unreachable!("handled above"),
        Command::ListPgs => {
            for c in s.list_collections().map_err(e)? {
                println!("{c}");
            }
        }
        Command::List { pgid: p } => {
            let colls = match p {
                Some(p) => vec![pgid(&p)?],
                None => s.list_collections().map_err(e)?,
            };
            for c in colls {
                let mut cursor = None;
                loop {
                    let page = s.list_objects(&c, cursor.as_ref(), 1000).map_err(e)?;
                    for o in &page.objects {
                        print_json(
                            serde_json::json!({"pgid": c.to_string(), "namespace": o.ns, "oid": o.name, "hash": format!("{:08x}", o.hash())}),
                        );
                    }
                    match page.next {
                        Some(n) => cursor = Some(n),
                        None => break,
                    }
                }
            }
        }
        Command::Info { pgid: p } => {
            let c = pgid(&p)?;
            match osd::pg::info::load(s, &c).map_err(e)? {
                Some(st) => {
                    let mut v = st.info.to_json();
                    v["pgid"] = serde_json::json!(c.to_string());
                    v["log_entries"] = serde_json::json!(st.log.len());
                    v["dups"] = serde_json::json!(st.log.dups().count());
                    v["missing"] = st.missing.iter().map(|(o, n)| serde_json::json!({"namespace": o.ns, "oid": o.name, "need": n.to_string()})).collect();
                    v["past_intervals"] = st.past.intervals.iter().map(|i| i.to_json()).collect();
                    print_json(v)
                }
                None => print_json(serde_json::json!({"pgid": c.to_string(), "info": null})),
            }
        }
        Command::DumpLog { pgid: p } => {
            let c = pgid(&p)?;
            // A PG without PG state (never peered) has an empty log.
            let st = osd::pg::info::load(s, &c).map_err(e)?.unwrap_or_default();
            for x in st.log.entries() {
                print_json(serde_json::json!({
                    "version": x.version.to_string(),
                    "prior_version": x.prior_version.to_string(),
                    "op": match x.kind { osd::pg::log::LogKind::Modify => "modify", osd::pg::log::LogKind::Delete => "delete" },
                    "namespace": x.object.ns,
                    "oid": x.object.name,
                    "reqid": x.reqid.as_ref().map(|r| r.to_string()),
                    "mtime_ns": x.mtime_ns,
                }));
            }
        }
        Command::CreatePg { pgid: p } => s.create_collection(&pgid(&p)?).map_err(e)?,
        Command::RemovePg { pgid: p } => s.remove_collection(&pgid(&p)?).map_err(e)?,
        Command::GetBytes { pgid: p, obj, file } => {
            let (c, o) = (pgid(&p)?, oid(&obj));
            let size = s.stat(&c, &o).map_err(e)?.size;
            write_output(&file, &s.read(&c, &o, 0, size).map_err(e)?)?;
        }
        Command::SetBytes { pgid: p, obj, file } => {
            let data = read_input(&file)?;
            edit(
                s,
                pgid(&p)?,
                Op::WriteFull {
                    obj: oid(&obj),
                    data,
                },
            )?;
        }
        Command::Remove { pgid: p, obj } => {
            edit(s, pgid(&p)?, Op::Remove { obj: oid(&obj) })?;
        }
        Command::Stat { pgid: p, obj } => {
            let st = s.stat(&pgid(&p)?, &oid(&obj)).map_err(e)?;
            print_json(
                serde_json::json!({"size": st.size, "mtime_ns": st.mtime_ns, "version": st.version.to_string()}),
            );
        }
        Command::GetAttr { pgid: p, obj, name } => {
            write_output("-", &s.getxattr(&pgid(&p)?, &oid(&obj), &name).map_err(e)?)?;
        }
        Command::SetAttr {
            pgid: p,
            obj,
            name,
            file,
        } => {
            let value = read_input(&file)?;
            edit(
                s,
                pgid(&p)?,
                Op::SetXattr {
                    obj: oid(&obj),
                    name,
                    value,
                },
            )?;
        }
        Command::RmAttr { pgid: p, obj, name } => {
            edit(
                s,
                pgid(&p)?,
                Op::RmXattr {
                    obj: oid(&obj),
                    name,
                },
            )?;
        }
        Command::ListAttrs { pgid: p, obj } => {
            for (name, _) in s.getxattrs(&pgid(&p)?, &oid(&obj)).map_err(e)? {
                println!("{name}");
            }
        }
        Command::GetOmap { pgid: p, obj, key } => {
            let (c, o) = (pgid(&p)?, oid(&obj));
            let got = s.omap_get(&c, &o, &[key.clone().into_bytes()]).map_err(e)?;
            let (_, v) = got
                .into_iter()
                .next()
                .ok_or_else(|| format!("object {o} in PG {c} has no omap key {key:?}"))?;
            write_output("-", &v)?;
        }
        Command::SetOmap {
            pgid: p,
            obj,
            key,
            file,
        } => {
            let value = read_input(&file)?;
            edit(
                s,
                pgid(&p)?,
                Op::OmapSet {
                    obj: oid(&obj),
                    entries: vec![(key.into_bytes(), value)],
                },
            )?;
        }
        Command::RmOmap { pgid: p, obj, key } => {
            edit(
                s,
                pgid(&p)?,
                Op::OmapRmKeys {
                    obj: oid(&obj),
                    keys: vec![key.into_bytes()],
                },
            )?;
        }
        Command::ListOmap { pgid: p, obj } => {
            let (c, o) = (pgid(&p)?, oid(&obj));
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = s
                    .omap_list(&c, &o, after.as_deref(), None, 1000)
                    .map_err(e)?;
                for (k, _) in &page.entries {
                    println!("{}", String::from_utf8_lossy(k));
                }
                after = page.entries.last().map(|(k, _)| k.clone());
                if !page.more {
                    break;
                }
            }
        }
        Command::GetOmaphdr { pgid: p, obj } => {
            write_output("-", &s.omap_header(&pgid(&p)?, &oid(&obj)).map_err(e)?)?
        }
        Command::SetOmaphdr { pgid: p, obj, file } => {
            let header = read_input(&file)?;
            edit(
                s,
                pgid(&p)?,
                Op::OmapSetHeader {
                    obj: oid(&obj),
                    header,
                },
            )?;
        }
        Command::Fsck { deep } => {
            let r = s.fsck(deep).map_err(e)?;
            println!(
                "fsck{}: {} PGs, {} objects, {} bytes verified, {} errors, {} leaked blobs (reclaimed at next open)",
                if deep { " --deep" } else { "" },
                r.collections,
                r.objects,
                r.bytes_verified,
                r.errors.len(),
                r.leaked_blobs
            );
            for issue in &r.errors {
                println!("damaged: {issue}");
            }
            if !r.errors.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Export { pgid: p, file } => {
            let c = pgid(&p)?;
            if !s.collection_exists(&c).map_err(e)? {
                return Err(format!("PG {c} does not exist"));
            }
            let f =
                std::fs::File::create(&file).map_err(|er| format!("cannot create {file}: {er}"))?;
            let mut w = std::io::BufWriter::new(f);
            let sum = export::export(s, &c, &mut w).map_err(e)?;
            w.into_inner()
                .map_err(|er| er.to_string())?
                .sync_all()
                .map_err(|er| format!("{file}: {er}"))?;
            println!(
                "exported PG {c}: {} objects, {} bytes, {} PG metadata keys",
                sum.objects, sum.bytes, sum.meta_keys
            );
        }
        Command::Import { file } => {
            let f = std::fs::File::open(&file).map_err(|er| format!("cannot read {file}: {er}"))?;
            let (c, sum) = export::import(s, &mut std::io::BufReader::new(f))
                .map_err(|er| format!("{file}: {er}"))?;
            println!(
                "imported PG {c}: {} objects, {} bytes, {} PG metadata keys",
                sum.objects, sum.bytes, sum.meta_keys
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
