//! One module per subcommand: its clap arguments and its `run` function.

pub(crate) mod check;
pub(crate) mod check_config;
pub(crate) mod completions;
pub(crate) mod demo;
pub(crate) mod discover;
pub(crate) mod hints;
pub(crate) mod keys;
pub(crate) mod man_pages;
pub(crate) mod names;
pub(crate) mod render;
pub(crate) mod resolve;
pub(crate) mod serve;
pub(crate) mod sign;
pub(crate) mod verify;
pub(crate) mod watch;
pub(crate) mod xdom;
