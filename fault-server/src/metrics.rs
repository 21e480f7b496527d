//! The fault server's Prometheus endpoint (`FaultServer::metrics_url`): the standard process
//! figures of the process it runs in, so that a check reading a backend's memory and
//! descriptors (conformance's hostile cases with `--server-metrics`) can be tried on it. Any
//! request gets them.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Serves the figures on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            if crate::handshake::read_head(&mut stream).await.is_none() {
                return;
            }
            let body = figures();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// `process_cpu_seconds_total`, `process_resident_memory_bytes` and `process_open_fds` in
/// Prometheus's text format (empty where `/proc` cannot be read).
fn figures() -> String {
    let Ok(me) = procfs::process::Process::myself() else {
        return String::new();
    };
    let (Ok(stat), Ok(fds)) = (me.stat(), me.fd_count()) else {
        return String::new();
    };
    let cpu = (stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64;
    let resident = stat.rss * procfs::page_size();
    format!(
        "process_cpu_seconds_total {cpu}\nprocess_resident_memory_bytes {resident}\n\
         process_open_fds {fds}\n"
    )
}
