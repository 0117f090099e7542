//! Mutual TLS between entities, driven through real rustls handshakes in
//! memory: a peer needs a certificate from this cluster's CA, each side
//! learns the other's entity name, and keyrings round-trip.

use std::sync::Arc;

use auth::{peer_entity, server_name, ClusterCa, Credentials, EntityName};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

/// Moves TLS records between the two sides until the handshake finishes;
/// errors say which side refused and why.
fn handshake(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    name: ServerName<'static>,
) -> Result<(ClientConnection, ServerConnection), String> {
    let mut c = ClientConnection::new(client, name).unwrap();
    let mut s = ServerConnection::new(server).unwrap();
    for _ in 0..32 {
        let mut wire = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut wire).unwrap();
        }
        let mut rd = &wire[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
            s.process_new_packets()
                .map_err(|e| format!("server refused: {e}"))?;
        }
        let mut wire = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut wire).unwrap();
        }
        let mut rd = &wire[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets()
                .map_err(|e| format!("client refused: {e}"))?;
        }
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() && !s.wants_write() {
            return Ok((c, s));
        }
    }
    Err("the handshake did not finish".into())
}

fn cluster(fsid: &str) -> (ClusterCa, Credentials, Credentials) {
    let ca = ClusterCa::generate(fsid).unwrap();
    let mon = ca.issue(&EntityName::mon("a")).unwrap();
    let admin = ca.issue(&EntityName::client("admin")).unwrap();
    (ca, mon, admin)
}

#[test]
fn entities_of_one_cluster_authenticate_each_other() {
    let (_ca, mon, admin) = cluster("f00d");
    let (c, s) = handshake(
        admin.client_config().unwrap(),
        mon.server_config().unwrap(),
        server_name(&mon.entity),
    )
    .unwrap();
    assert_eq!(
        peer_entity(s.peer_certificates().unwrap()).unwrap(),
        EntityName::client("admin")
    );
    assert_eq!(
        peer_entity(c.peer_certificates().unwrap()).unwrap(),
        EntityName::mon("a")
    );
}

#[test]
fn strangers_are_refused() {
    let (_ca, mon, admin) = cluster("aaaa");
    let (_other_ca, other_mon, other_admin) = cluster("bbbb");
    let server = mon.server_config().unwrap();
    // A client certificate from another cluster's CA.
    // (The impostor trusts our CA, so only the server's check can stop it.)
    let impostor = Credentials {
        ca_pem: mon.ca_pem.clone(),
        ..other_admin.clone()
    };
    let e = handshake(
        impostor.client_config().unwrap(),
        server.clone(),
        server_name(&mon.entity),
    )
    .unwrap_err();
    assert!(
        e.contains("server refused") && e.contains("UnknownIssuer"),
        "{e}"
    );
    // No client certificate at all.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::pem::PemObject::from_pem_slice(admin.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let anonymous = ClientConfig::builder_with_provider(auth::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let e = handshake(
        Arc::new(anonymous),
        server.clone(),
        server_name(&mon.entity),
    )
    .unwrap_err();
    assert!(e.contains("server refused"), "{e}");
    // A server from another cluster.
    let e = handshake(
        admin.client_config().unwrap(),
        other_mon.server_config().unwrap(),
        server_name(&mon.entity),
    )
    .unwrap_err();
    assert!(
        e.contains("client refused") && e.contains("UnknownIssuer"),
        "{e}"
    );
    // The right cluster but not the entity the client meant to reach.
    let e = handshake(
        admin.client_config().unwrap(),
        server,
        server_name(&EntityName::osd(3)),
    )
    .unwrap_err();
    assert!(
        e.contains("client refused") && e.contains("not valid for name \"osd.3.strata\""),
        "{e}"
    );
}

#[test]
fn keyrings_round_trip_and_bad_ones_are_refused() {
    let (ca, mon, _admin) = cluster("c0ffee");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mon.a.keyring");
    mon.save(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let loaded = Credentials::load(&path).unwrap();
    assert_eq!(loaded, mon);
    assert!(loaded
        .to_keyring()
        .starts_with("# strata keyring v1\nentity mon.a\nfsid c0ffee\n"));
    // A CA reloaded from PEM keeps signing for the same cluster.
    let again = ClusterCa::from_pem("c0ffee", ca.cert_pem(), ca.key_pem()).unwrap();
    let osd = again.issue(&EntityName::osd(7)).unwrap();
    let (_, s) = handshake(
        osd.client_config().unwrap(),
        mon.server_config().unwrap(),
        server_name(&mon.entity),
    )
    .unwrap();
    assert_eq!(
        peer_entity(s.peer_certificates().unwrap())
            .unwrap()
            .to_string(),
        "osd.7"
    );

    let bad = |text: &str, want: &str| {
        let e = Credentials::from_keyring("k", text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("keyring k: ") && e.contains(want), "{e}");
    };
    bad("hello", "not a Strata keyring");
    bad("# strata keyring v1\nfsid x\n", "missing the 'entity' line");
    bad(
        &mon.to_keyring()
            .replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN NOTHING-----"),
        "expected 2 certificates and 1 private key",
    );
    let e = Credentials::from_keyring("k", "# strata keyring v1\nentity disk.9\nfsid x\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("'disk.9' is not an entity name"), "{e}");
    let missing = Credentials::load(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope"), "{missing}");
}
