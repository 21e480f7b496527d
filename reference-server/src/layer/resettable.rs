//! A Redis connection for publishing that can be reset: dropping it ends its driver task and
//! resets the socket (zero linger), so bytes it had not delivered are discarded. The
//! publisher of the native format uses it so that a publish that timed out is never taken
//! late.

/// The publisher's connection. A pipeline that timed out may still be on its way (a
/// partition: the bytes wait in the socket's buffer, and TCP would deliver them once the
/// network heals, after frames published since on a new connection): the connection is
/// dropped with a reset (zero linger) and its driver task ended, so what it had not delivered
/// is discarded, never published late.
pub struct Publishing {
    pub conn: redis::aio::MultiplexedConnection,
    driver: Option<tokio::task::AbortHandle>,
}

impl Drop for Publishing {
    fn drop(&mut self) {
        if let Some(driver) = &self.driver {
            driver.abort();
        }
    }
}

impl Publishing {
    /// A connection for publishing: over a TCP socket of our own where the URL names a host
    /// and port (so that it can be reset), else as the client makes it.
    pub async fn open(client: &redis::Client) -> redis::RedisResult<Self> {
        let info = client.get_connection_info();
        let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
            let conn = client.get_multiplexed_async_connection().await?;
            return Ok(Self { conn, driver: None });
        };
        let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
        let _ = stream.set_nodelay(true);
        stream.set_zero_linger()?;
        let (conn, driver) = redis::aio::MultiplexedConnection::new_with_config(
            info.redis_settings(),
            stream,
            // One timeout, the caller's own.
            redis::AsyncConnectionConfig::new().set_response_timeout(None),
        )
        .await?;
        let driver = Some(tokio::spawn(driver).abort_handle());
        Ok(Self { conn, driver })
    }
}
