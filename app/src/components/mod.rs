//! Components shared by pages.

pub mod drawer;
pub mod editable;
pub mod start;
pub mod table;
pub mod terminal;
pub mod time;
pub mod verdict;
