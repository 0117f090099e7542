//! The simulated clients and the model of acknowledged state. Each client
//! owns a few objects and has one op in flight at a time, so the state of
//! each object after its last acknowledged write is exactly known: every
//! read must return it, and at the end every copy must equal it. A client
//! resends (same request id) after an EAGAIN or a timeout until it gets
//! an answer, so non-idempotent writes (appends) test de-duplication.

use std::collections::BTreeMap;

use cluster::msg::osd::{ObjOp, OpOutput};
use cluster::msg::ErrorCode;
use cluster::ReqId;
use osd::pg::engine::{OpDone, OpReply};
use osd::store::ObjectId;
use rand::rngs::StdRng;
use rand::Rng;

/// An object as the acknowledged writes left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjModel {
    pub exists: bool,
    pub data: Vec<u8>,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    pub omap: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Clone, Debug)]
pub enum Expect {
    /// A write: the object's state once it is acknowledged.
    Write(ObjModel),
    Read,
}

#[derive(Clone, Debug)]
pub struct Pending {
    pub obj: ObjectId,
    pub ops: Vec<ObjOp>,
    pub data: Vec<u8>,
    pub reqid: ReqId,
    pub expect: Expect,
    pub sent_at: u64,
    pub attempts: u32,
    /// The handle of every try (any try's answer is the answer).
    pub handles: Vec<u64>,
}

pub struct Client {
    pub id: u32,
    pub objects: Vec<ObjectId>,
    pub model: BTreeMap<ObjectId, ObjModel>,
    pub pending: Option<Pending>,
    tid: u64,
    pub acked_writes: u64,
    pub reads_checked: u64,
}

fn bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = rng.random_range(1..=max);
    (0..n).map(|_| rng.random::<u8>()).collect()
}

impl Client {
    pub fn new(id: u32, objects: usize) -> Client {
        let objects: Vec<ObjectId> = (0..objects)
            .map(|i| ObjectId::named(format!("c{id}-o{i}")))
            .collect();
        Client {
            id,
            model: objects
                .iter()
                .map(|o| (o.clone(), ObjModel::default()))
                .collect(),
            objects,
            pending: None,
            tid: 0,
            acked_writes: 0,
            reads_checked: 0,
        }
    }

    /// Makes up the next op, valid against the model.
    pub fn next_op(&mut self, rng: &mut StdRng, now: u64) -> &Pending {
        let obj = self.objects[rng.random_range(0..self.objects.len())].clone();
        let cur = self.model[&obj].clone();
        let mut next = cur.clone();
        let (ops, data, expect) = match rng.random_range(0..10) {
            0..=2 => (
                vec![
                    ObjOp::Read { offset: 0, len: 0 },
                    ObjOp::ListXattrs,
                    ObjOp::OmapGetRange {
                        start_after: String::new(),
                        prefix: String::new(),
                        max: 1000,
                    },
                ],
                Vec::new(),
                Expect::Read,
            ),
            3 => {
                let d = bytes(rng, 48);
                next.exists = true;
                next.data = d.clone();
                (
                    vec![ObjOp::WriteFull {
                        len: d.len() as u64,
                    }],
                    d,
                    Expect::Write(next),
                )
            }
            4 => {
                let d = bytes(rng, 16);
                next.exists = true;
                next.data.extend_from_slice(&d);
                (
                    vec![ObjOp::Append {
                        len: d.len() as u64,
                    }],
                    d,
                    Expect::Write(next),
                )
            }
            5 => {
                let d = bytes(rng, 16);
                let off = rng.random_range(0..=cur.data.len() as u64 + 4);
                next.exists = true;
                let end = off as usize + d.len();
                if next.data.len() < end {
                    next.data.resize(end, 0);
                }
                next.data[off as usize..end].copy_from_slice(&d);
                (
                    vec![ObjOp::Write {
                        offset: off,
                        len: d.len() as u64,
                    }],
                    d,
                    Expect::Write(next),
                )
            }
            6 => {
                let name = format!("x{}", rng.random_range(0..3));
                let d = bytes(rng, 8);
                next.exists = true;
                next.xattrs.insert(name.clone(), d.clone());
                (
                    vec![ObjOp::SetXattr {
                        name,
                        len: d.len() as u64,
                    }],
                    d,
                    Expect::Write(next),
                )
            }
            7 => {
                let key = format!("k{}", rng.random_range(0..4));
                let d = bytes(rng, 8);
                next.exists = true;
                next.omap.insert(key.as_bytes().to_vec(), d.clone());
                (
                    vec![ObjOp::OmapSet {
                        keys: vec![key],
                        lens: vec![d.len() as u64],
                    }],
                    d,
                    Expect::Write(next),
                )
            }
            8 if cur.exists => {
                let size = rng.random_range(0..=cur.data.len() as u64);
                next.data.truncate(size as usize);
                (
                    vec![ObjOp::Truncate { size }],
                    Vec::new(),
                    Expect::Write(next),
                )
            }
            _ => {
                if cur.exists {
                    (
                        vec![ObjOp::Remove],
                        Vec::new(),
                        Expect::Write(ObjModel::default()),
                    )
                } else {
                    let d = bytes(rng, 32);
                    next.exists = true;
                    next.data = d.clone();
                    (
                        vec![
                            ObjOp::Create { exclusive: true },
                            ObjOp::WriteFull {
                                len: d.len() as u64,
                            },
                        ],
                        d,
                        Expect::Write(next),
                    )
                }
            }
        };
        self.tid += 1;
        self.pending = Some(Pending {
            obj,
            ops,
            data,
            reqid: ReqId {
                client: format!("client.{}", self.id),
                nonce: 0x5eed_0000 + u64::from(self.id),
                tid: self.tid,
            },
            expect,
            sent_at: now,
            attempts: 0,
            handles: Vec::new(),
        });
        self.pending.as_ref().expect("just set")
    }

    /// Checks a reply against the model. `Ok(true)`: the op is done;
    /// `Ok(false)`: resend it; `Err`: a violation.
    pub fn on_reply(&mut self, r: &OpReply) -> Result<bool, String> {
        let Some(p) = self.pending.clone() else {
            return Ok(false);
        };
        let cur = &self.model[&p.obj];
        match (&r.result, &p.expect) {
            (Err(e), _) if e.error.code == ErrorCode::Again => Ok(false),
            (Ok(_), Expect::Write(after)) => {
                self.model.insert(p.obj.clone(), after.clone());
                self.acked_writes += 1;
                self.pending = None;
                Ok(true)
            }
            (Err(e), Expect::Read) if e.error.code == ErrorCode::NotFound && !cur.exists => {
                self.pending = None;
                self.reads_checked += 1;
                Ok(true)
            }
            (Ok(done), Expect::Read) => {
                let seen = decode_read(done);
                if !cur.exists || seen != *cur {
                    return Err(format!(
                        "read of {} ({}) returned {seen:?}, but the acknowledged state is {cur:?}",
                        p.obj, p.reqid
                    ));
                }
                self.pending = None;
                self.reads_checked += 1;
                Ok(true)
            }
            (Err(e), _) => Err(format!(
                "{} on {} failed: {} (step {:?}); model {cur:?}",
                p.reqid, p.obj, e.error.message, e.step
            )),
        }
    }
}

fn decode_read(d: &OpDone) -> ObjModel {
    let mut m = ObjModel {
        exists: true,
        ..ObjModel::default()
    };
    for o in &d.outputs {
        match o {
            OpOutput::Data { len } => m.data = d.data[..*len as usize].to_vec(),
            OpOutput::Xattrs(x) => m.xattrs = x.iter().cloned().collect(),
            OpOutput::Omap { entries, .. } => {
                m.omap = entries
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                    .collect()
            }
            _ => {}
        }
    }
    m
}
