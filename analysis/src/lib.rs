//! speedcert's analysis: the published records tables rebuilt from verified bundles,
//! the efficiency frontier, plots and the leaderboard page.
//!
//! It reads bundles and CSVs and never trains; it reads and verifies bundles through
//! `speedcert-bundle` and deliberately does not depend on the evaluator (and so not on
//! burn), so the tables can be rebuilt and checked on any machine.
//!
//! - [`rebuild()`](rebuild::rebuild): bundles/ → runs.csv, records.csv, curves.csv
//!   (every bundle verified and recomputed through speedcert-bundle)
//! - [`view::show`], [`view::frontier`]: the tables and the frontier as text or JSON
//! - [`site::site`]: index.html, plots/*.svg and records/README.md
//! - [`nightly::append_nightly`], [`nightly::read_nightly`]: records/nightly.csv, the
//!   log of `speedcert nightly`

pub mod bundle;
pub mod curves;
pub mod dates;
pub mod error;
pub mod format;
pub mod frame;
pub mod frontier;
pub mod imported;
pub mod nightly;
pub mod plot;
pub mod rebuild;
pub mod site;
pub mod table;
pub mod verify;
pub mod view;

pub use error::{AnalysisError, Result};
pub use nightly::{NightlyRow, append_nightly, read_nightly};
pub use rebuild::{Excluded, RebuildReport, rebuild};
pub use site::{SiteReport, site};
pub use view::{FrontierView, ShowView, Tables, load};
