//! The `tcp` probe: connect to `service:port` at the container's own address and see the
//! service *accept* the connection (the kernel completes the handshake for a frozen process).

use super::{ProbeEnv, accepted};

pub(super) async fn check(env: &ProbeEnv, service: &str, port: u16) -> Result<(), String> {
    let target = env
        .book
        .target(service, port)
        .ok_or_else(|| format!("{service}:{port} has no known address"))?;
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .map_err(|e| e.to_string())?;
    if target.direct && target.pid != 0 {
        accepted::wait(&stream, target.pid).await
    } else {
        // A published port: all we can know is that Docker's proxy accepted it.
        Ok(())
    }
}
