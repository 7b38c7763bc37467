//! Integration tests of the `auth` function against DynamoDB Local (through the real handler).

mod admin_users;
mod attacks;
mod audit;
mod client_address;
mod confinement;
mod data_rights;
mod events;
mod flow;
mod health;
mod input;
mod orgs;
mod ownership;
mod restore;
mod throttle;
mod verification;
