//! Puts an object into a pool and reads it back: the smallest program on
//! the client library. Against the local cluster:
//!
//! ```text
//! deploy/local-cluster.sh up
//! cargo run --release -p strata-client --example hello -- /tmp/strata-local/strata.yaml data
//! ```

use std::path::Path;

#[tokio::main]
async fn main() -> Result<(), client::ClientError> {
    let args: Vec<String> = std::env::args().collect();
    let conf = args
        .get(1)
        .map_or("/etc/strata/strata.yaml", String::as_str);
    let pool_name = args.get(2).map_or("data", String::as_str);
    let rados = client::Rados::connect(Path::new(conf), None).await?;
    let pool = rados.pool(pool_name).await?;
    let v = pool.write_full("hello", b"hello, strata").await?;
    println!("wrote 'hello' at version {}.{}", v.epoch, v.counter);
    let back = pool.read("hello", 0, 0).await?;
    println!("read back: {}", String::from_utf8_lossy(&back));
    // A compound op: data, an xattr and omap, all or nothing.
    let op = client::ObjectOperation::new()
        .write_full(b"v2")
        .set_xattr("owner", b"me")
        .omap_set(&[("k", b"v")]);
    pool.operate("hello", op).await?;
    println!("stat: {:?}", pool.stat("hello").await?);
    Ok(())
}
