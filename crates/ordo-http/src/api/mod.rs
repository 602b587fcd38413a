//! The JSON API. Version 1 lives under `/api/v1`; each area has its own module and router.

pub mod v1;
