//! docs/protocol.md section 7: Origin and Host.

use super::{case, holds};
use crate::case::{Case, CaseResult, Ctx};
use crate::wire::Handshake;

pub(super) const CASES: &[Case] = &[case!(
    "security.any-origin",
    Django,
    "any Origin is accepted on the WebSocket (as Django does, even with DEBUG=False)",
    any_origin
)];

async fn any_origin(ctx: Ctx) -> CaseResult {
    let target = ctx.ws_target(&ctx.room("origin"));
    let mut plain = ctx.clone();
    plain.origin = None;
    match plain
        .handshake(&target, "Origin: http://elsewhere.example\r\n")
        .await?
    {
        Handshake::Accepted(_) => holds("Origin http://elsewhere.example accepted"),
        Handshake::Refused(r) => Err(format!("refused with HTTP {}", r.status)),
    }
}
