//! Integration tests of the `marketplace` function (with auth and usage) against DynamoDB Local: the catalog
//! (filters, every sort order, keyset cursors, the per-instance cache), solution details, and reviews (who may
//! write one, one per user, the rating summary under concurrency, pages).

mod catalog;
mod events;
mod reviews;
