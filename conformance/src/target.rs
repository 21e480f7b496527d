//! Which backend the suite grades: `CHAT_TARGET` or `--target`, or the reference server
//! started in-process. Parsing is the `endpoint` crate's, which loadgen shares.

pub use endpoint::{Endpoint as Target, EndpointError as TargetError};
