//! Domain rules with no HTTP or SQL in them: validated newtypes for what users type (emails,
//! passwords, names, slugs) and the one-time secrets the product hands out.

pub mod canned;
pub mod email;
pub mod names;
pub mod origins;
pub mod password;
pub mod secret;
pub mod tags;
pub mod tracking;
