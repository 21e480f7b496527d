//! Impaired links (`--impair`, `impair` in a workload's group): per group with impaired
//! members, a relay per target that holds bytes for the link's delay and jitter
//! ([`relay`], user space), and where the link has loss or a rate, the kernel link the
//! members reach the relay over ([`netns`]: real drops, real rate limit, real TCP
//! retransmits). Everything is removed when [`Links`] is dropped: at the run's end, after
//! Ctrl-C, and when the run fails; namespaces left by a killed run are swept at the next
//! start.

pub mod netns;
pub mod relay;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use endpoint::connect::Via;
use tokio::net::TcpListener;

use crate::plan::{ReaderKinds, WorkerPlan};
use crate::target::Target;
use crate::workload::{Link, Workload};
use netns::{MEMBER_ADDR, Pair};
use relay::{Hold, Relay};
use run_result::Totals;
use run_result::part::Retransmits;

/// Every impaired group's link, by group.
#[derive(Debug, Default)]
pub struct Links {
    groups: Vec<Option<GroupLink>>,
}

/// One group's link. Field order is drop order: the relays stop before the namespaces go.
#[derive(Debug)]
struct GroupLink {
    /// By target address.
    relays: Vec<(SocketAddr, Relay)>,
    pair: Option<Arc<Pair>>,
    /// Each namespace's retransmitted segments when the link was built (relay, members).
    retransmits_at_start: (u64, u64),
}

impl Links {
    /// Builds the links `workload`'s groups ask for, to `targets`. Fails (in one line)
    /// before anything is built when a kernel link needs root or tools that are missing.
    pub async fn open(workload: &Workload, targets: &[Target]) -> anyhow::Result<Self> {
        let targets: Vec<SocketAddr> = targets.iter().map(|t| t.addr).collect();
        let kernel = workload
            .groups
            .iter()
            .any(|g| g.impair.is_some_and(|i| i.link.kernel()));
        if kernel {
            netns::check()?;
            netns::sweep_stale();
        }
        let mut groups = Vec::with_capacity(workload.groups.len());
        for (g, group) in workload.groups.iter().enumerate() {
            groups.push(match group.impair {
                Some(impair) => Some(
                    GroupLink::open(g, &impair.link, &targets, workload.seed)
                        .await
                        .with_context(|| format!("the impaired link of group {:?}", group.name))?,
                ),
                None => None,
            });
        }
        Ok(Self { groups })
    }

    /// Sends every impaired member of `plans` through its group's link.
    pub fn route(&self, plans: &mut [WorkerPlan]) {
        for conn in plans.iter_mut().flat_map(|w| &mut w.conns) {
            if conn.impaired {
                conn.via = self.via(conn.group, conn.target.addr);
            }
        }
    }

    /// Each impaired kind's link retransmits into its part of `totals` (`kinds` by group).
    pub fn retransmits_into(&self, kinds: &[ReaderKinds], totals: &mut Totals) {
        for (group, kinds) in kinds.iter().enumerate() {
            if let (Some(kind), Some((to, from))) = (kinds.impaired, self.retransmits(group)) {
                Totals::part(&mut totals.readers, kind).retransmits = Some(Retransmits {
                    to_members: to,
                    from_members: from,
                });
            }
        }
    }

    /// How an impaired member of `group` reaches `target`.
    fn via(&self, group: usize, target: SocketAddr) -> Option<Via> {
        let link = self.groups.get(group)?.as_ref()?;
        let (_, relay) = link.relays.iter().find(|(t, _)| *t == target)?;
        let socket = link.pair.as_ref().map(|pair| {
            let pair = Arc::clone(pair);
            let make: Arc<dyn Fn() -> std::io::Result<tokio::net::TcpSocket> + Send + Sync> =
                Arc::new(move || pair.members.run(tokio::net::TcpSocket::new_v4)?);
            make
        });
        Some(Via {
            addr: relay.addr,
            socket,
        })
    }

    /// A kernel link's TCP segments retransmitted since it was built: toward the members
    /// (the relay's side) and from them.
    fn retransmits(&self, group: usize) -> Option<(u64, u64)> {
        let link = self.groups.get(group)?.as_ref()?;
        let pair = link.pair.as_ref()?;
        let (relay, members) = link.retransmits_at_start;
        Some((
            pair.relay.retransmits()?.saturating_sub(relay),
            pair.members.retransmits()?.saturating_sub(members),
        ))
    }
}

impl GroupLink {
    async fn open(
        group: usize,
        link: &Link,
        targets: &[SocketAddr],
        seed: u64,
    ) -> anyhow::Result<Self> {
        let pair = match link.kernel() {
            true => Some(Arc::new(Pair::build(group, link)?)),
            false => None,
        };
        let hold = Hold {
            one_way: link.rtt / 2,
            jitter: link.jitter,
        };
        let mut relays = Vec::with_capacity(targets.len());
        for (t, target) in targets.iter().enumerate() {
            let listener = match &pair {
                // The listener is made in the relay's namespace; its connections are too.
                Some(pair) => {
                    let std = pair.relay.run(|| {
                        let l = std::net::TcpListener::bind(Pair::relay_bind())?;
                        l.set_nonblocking(true)?;
                        Ok::<_, std::io::Error>(l)
                    })??;
                    TcpListener::from_std(std)?
                }
                None => TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?,
            };
            let seed = seed ^ ((group as u64) << 32) ^ t as u64;
            relays.push((*target, relay::spawn(listener, *target, hold, seed)?));
        }
        let retransmits_at_start = match &pair {
            Some(p) => (
                p.relay.retransmits().unwrap_or(0),
                p.members.retransmits().unwrap_or(0),
            ),
            None => (0, 0),
        };
        tracing::info!(
            "group {group}: impaired link {link}{}",
            match &pair {
                Some(_) => format!(" (kernel link {MEMBER_ADDR} -> {})", netns::RELAY_ADDR),
                None => " (delay in user space)".into(),
            }
        );
        Ok(Self {
            relays,
            pair,
            retransmits_at_start,
        })
    }
}
