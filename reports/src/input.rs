//! What `reports render` and `compare` read: a single run or a capacity search, told apart
//! by the file itself.

use std::path::Path;

use crate::run::{LoadError, Run, is_sweep, read_json};
use crate::sweep::Sweep;

/// A file `reports` reads: a single run or a capacity search.
#[derive(Debug, Clone)]
pub enum Input {
    Run(Box<Run>),
    Sweep(Box<Sweep>),
}

impl Input {
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let value = read_json(path)?;
        if is_sweep(&value) {
            return Ok(Self::Sweep(Box::new(Sweep::from_value(path, value)?)));
        }
        Ok(Self::Run(Box::new(Run::from_value(path, value)?)))
    }
}
