//! Raft RPCs between monitors over the messenger. openraft's request and
//! response types are serde; they travel as JSON in the frame body (the
//! frame's crc32c covers them), under their own message types. The
//! leader's view of which peers answer lately is what `quorum_status`
//! reports.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth::EntityName;
use cluster::msg::msg_type;
use cluster::MonMap;
use messenger::{Message, Messenger};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{NodeId, TypeConfig};

/// When each peer last answered a Raft RPC.
#[derive(Default)]
pub struct PeerContact {
    last: Mutex<HashMap<NodeId, Instant>>,
}

impl PeerContact {
    fn saw(&self, id: NodeId) {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Instant::now());
    }

    /// Peers that answered within `within`.
    pub fn recent(&self, within: Duration) -> Vec<NodeId> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, t)| t.elapsed() <= within)
            .map(|(id, _)| *id)
            .collect()
    }
}

pub struct Network {
    pub messenger: Arc<Messenger>,
    pub monmap: MonMap,
    pub contact: Arc<PeerContact>,
}

pub struct Peer {
    messenger: Arc<Messenger>,
    id: NodeId,
    target: Option<(SocketAddr, EntityName)>,
    contact: Arc<PeerContact>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Peer {
        let target_info = self
            .monmap
            .by_rank(target)
            .and_then(|m| Some((m.addr.parse().ok()?, EntityName::mon(&m.name))));
        Peer {
            messenger: self.messenger.clone(),
            id: target,
            target: target_info,
            contact: self.contact.clone(),
        }
    }
}

impl Peer {
    async fn call<Req, Resp, E>(
        &self,
        ty: u16,
        req: &Req,
        opt: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let unreachable =
            |m: String| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(m)));
        let (addr, entity) = self
            .target
            .as_ref()
            .ok_or_else(|| unreachable(format!("monitor rank {} is not in the monmap", self.id)))?;
        let body = serde_json::to_vec(req).expect("serde types encode");
        let msg = Message {
            msg_type: ty,
            body,
            data: Vec::new(),
        };
        let reply = self
            .messenger
            .request(*addr, entity, &msg, opt.hard_ttl())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if reply.msg_type != msg_type::RAFT_REPLY {
            return Err(RPCError::Network(NetworkError::new(
                &std::io::Error::other(format!(
                    "{entity} answered a Raft RPC with message type {}",
                    reply.msg_type
                )),
            )));
        }
        let r: Result<Resp, E> = serde_json::from_slice(&reply.body).map_err(|e| {
            RPCError::Network(NetworkError::new(&std::io::Error::other(format!(
                "{entity} sent a Raft reply that does not decode: {e}"
            ))))
        })?;
        self.contact.saw(self.id);
        r.map_err(|e| RPCError::RemoteError(openraft::error::RemoteError::new(self.id, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(msg_type::RAFT_APPEND, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(msg_type::RAFT_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(msg_type::RAFT_VOTE, &rpc, &option).await
    }
}

/// Serves a Raft RPC that arrived at this monitor; the reply body is the
/// JSON of openraft's `Result`.
pub async fn serve(raft: &super::MonRaft, msg: &Message) -> Result<Vec<u8>, String> {
    fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
        serde_json::from_slice(b).map_err(|e| format!("Raft request does not decode: {e}"))
    }
    let enc = |v: &dyn erased::Ser| v.to_json();
    match msg.msg_type {
        msg_type::RAFT_APPEND => {
            let r = raft.append_entries(decode(&msg.body)?).await;
            Ok(enc(&r))
        }
        msg_type::RAFT_VOTE => {
            let r = raft.vote(decode(&msg.body)?).await;
            Ok(enc(&r))
        }
        msg_type::RAFT_SNAPSHOT => {
            let r = raft.install_snapshot(decode(&msg.body)?).await;
            Ok(enc(&r))
        }
        other => Err(format!("message type {other} is not a Raft RPC")),
    }
}

mod erased {
    /// Lets `serve` encode results of different types with one closure.
    pub trait Ser {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).expect("serde types encode")
        }
    }
}
