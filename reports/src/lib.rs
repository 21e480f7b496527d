//! reports: CI latency reports from loadgen results.
//!
//! `reports render RUN.json [MORE.json ...] --out DIR` writes `summary.md`, `report.html` (SVG
//! charts) and one `.hgrm` file per histogram; `reports compare BASE.json NEW.json ...` gates a
//! build on regressions; `reports merge A.json B.json -o ALL.json` merges shards exactly;
//! `reports matrix CONFORMANCE.json ... --out DIR` puts conformance reports side by side.
//!
//! - [`cli`]: the command line's options and `run` (`main.rs` only parses).
//! - [`run`]: reading results; [`input`]: a result or a sweep. [`markdown`], [`html`],
//!   [`charts`], [`timeline`] (an outage and its recovery), [`parts`] (a workload run by
//!   group, room size and stage), [`hgrm`]: the outputs.
//! - [`compare`]: bounds and the baseline gate. [`merge`]: shards into one result.
//! - [`sweep`]: capacity searches (`loadgen --sweep`): the curve and the capacity gate.
//! - [`matrix`]: the conformance matrix (conformance's JSON reports, not loadgen's).

pub mod charts;
pub mod cli;
pub mod compare;
mod escape;
pub mod hgrm;
pub mod html;
pub mod input;
pub mod markdown;
pub mod matrix;
pub mod merge;
pub mod parts;
pub mod render;
pub mod run;
pub mod shards;
pub mod sweep;
pub mod timeline;
