//! `osd tree`: the CRUSH hierarchy with each OSD's state.

use client::ClientError;
use cluster::OsdMap;
use serde_json::{json, Value};

use crate::Format;

struct Node {
    id: i32,
    name: String,
    type_name: String,
    type_id: i32,
    class: String,
    weight: f64,
    depth: usize,
    children: Vec<i32>,
}

pub fn print(m: &OsdMap, fmt: Format) -> Result<(), ClientError> {
    let c = m.crush().map_err(|e| ClientError::Protocol {
        from: "monitor".into(),
        what: format!("the CRUSH map does not parse: {e}"),
    })?;
    let mut nodes = Vec::new();
    let mut stack: Vec<(i32, f64, usize)> = c
        .roots()
        .into_iter()
        .rev()
        .map(|r| (r, bucket_weight(&c, r), 0))
        .collect();
    let mut placed = std::collections::BTreeSet::new();
    while let Some((id, weight, depth)) = stack.pop() {
        let type_id = if id >= 0 {
            0
        } else {
            c.bucket(id).map_or(0, |b| b.type_id)
        };
        let children: Vec<i32> = c.bucket(id).map(|b| b.items.clone()).unwrap_or_default();
        if let Some(b) = c.bucket(id) {
            for (i, w) in b.items.iter().zip(&b.weights).rev() {
                stack.push((*i, f64::from(*w) / 65536.0, depth + 1));
            }
        }
        if id >= 0 {
            placed.insert(id as u32);
        }
        nodes.push(Node {
            id,
            name: c.item_name(id).unwrap_or("?").to_string(),
            type_name: c.type_name(type_id).unwrap_or("?").to_string(),
            type_id,
            class: c
                .devices
                .get(&id)
                .and_then(|d| d.class)
                .and_then(|k| c.class_name(k))
                .unwrap_or("")
                .to_string(),
            weight,
            depth,
            children,
        });
    }
    let stray: Vec<u32> = m
        .osds
        .keys()
        .filter(|id| !placed.contains(id))
        .copied()
        .collect();
    let status = |id: i32| {
        m.osds.get(&(id as u32)).map(|o| {
            (
                if o.up { "up" } else { "down" },
                f64::from(o.reweight) / 65536.0,
            )
        })
    };
    if fmt == Format::Json {
        let v: Vec<Value> = nodes
            .iter()
            .map(|n| {
                let mut o =
                    json!({"id": n.id, "name": n.name, "type": n.type_name, "type_id": n.type_id});
                if n.id < 0 {
                    o["children"] = json!(n.children);
                } else {
                    o["crush_weight"] = json!(n.weight);
                    o["device_class"] = json!(n.class);
                    let (st, rw) = status(n.id).unwrap_or(("destroyed", 0.0));
                    o["status"] = json!(st);
                    o["reweight"] = json!(rw);
                }
                o
            })
            .collect();
        let s: Vec<Value> = stray
            .iter()
            .map(|id| {
                let o = &m.osds[id];
                json!({"id": id, "name": format!("osd.{id}"), "type": "osd", "type_id": 0,
                       "status": if o.up {"up"} else {"down"}, "reweight": f64::from(o.reweight) / 65536.0})
            })
            .collect();
        crate::print::json(&json!({"nodes": v, "stray": s}));
        return Ok(());
    }
    println!(
        "{:<4} {:<6} {:>9}  {:<30} {:>7}  {:>8}",
        "ID", "CLASS", "WEIGHT", "TYPE NAME", "STATUS", "REWEIGHT"
    );
    for n in &nodes {
        let label = format!("{}{} {}", "    ".repeat(n.depth), n.type_name, n.name);
        let label = if n.id >= 0 {
            format!("{}{}", "    ".repeat(n.depth), n.name)
        } else {
            label
        };
        let (st, rw) = if n.id >= 0 {
            status(n.id).map_or(("DNE".to_string(), String::new()), |(s, r)| {
                (s.to_string(), format!("{r:.5}"))
            })
        } else {
            (String::new(), String::new())
        };
        println!(
            "{:<4} {:<6} {:>9.5}  {:<30} {:>7}  {:>8}",
            n.id, n.class, n.weight, label, st, rw
        );
    }
    for id in stray {
        let o = &m.osds[&id];
        println!(
            "{:<4} {:<6} {:>9}  {:<30} {:>7}  {:>8.5}",
            id,
            "",
            "0",
            format!("osd.{id}"),
            if o.up { "up" } else { "down" },
            f64::from(o.reweight) / 65536.0
        );
    }
    Ok(())
}

fn bucket_weight(c: &crush::CrushMap, id: i32) -> f64 {
    c.bucket(id)
        .map_or(0.0, |b| f64::from(b.weight()) / 65536.0)
}
