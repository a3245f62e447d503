//! Services a stage's tests use, started by the agent rather than by the tests: the
//! databases of MediaWiki's matrix. A stage lists them (`services: ["{db}"]`, filled in
//! per cell); every task gets a database of its own, and, with an `install` step, a
//! copy of the database that step left behind (see [`crate::install`]). The agent's
//! side is agent/src/service.rs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service an agent can provide to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// No server: the task gets a directory of its own for its database files.
    Sqlite,
    /// A PostgreSQL server on a unix socket, one database per task.
    Postgres,
    /// A MariaDB (or MySQL) server on a unix socket, one database per task.
    Mysql,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Sqlite, Service::Postgres, Service::Mysql];

    /// The name in a pipeline file and in `FARM_DB_TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Sqlite => "sqlite",
            Service::Postgres => "postgres",
            Service::Mysql => "mysql",
        }
    }

    /// A name from a pipeline file: also `mariadb` (what Debian ships as mysql) and
    /// `postgresql`.
    pub fn parse(name: &str) -> Option<Service> {
        match name {
            "sqlite" => Some(Service::Sqlite),
            "postgres" | "postgresql" => Some(Service::Postgres),
            "mysql" | "mariadb" => Some(Service::Mysql),
            _ => None,
        }
    }

    /// The label an agent carries when it can start this service, so that the
    /// coordinator leases only to such agents. SQLite needs no server: none.
    pub fn required_label(self) -> Option<(String, String)> {
        match self {
            Service::Sqlite => None,
            other => Some((format!("service.{}", other.as_str()), "yes".to_string())),
        }
    }

    /// The names accepted in a pipeline file, for error messages.
    pub fn known() -> String {
        "sqlite, postgres (postgresql), mysql (mariadb)".to_string()
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The database name a task (or an install) gets: lower-case letters, digits and `_`,
/// at most 63 bytes (PostgreSQL's limit; MariaDB allows 64).
pub fn database_name(prefix: &str, id: &str) -> String {
    let mut name: String = format!("farm_{prefix}_{id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(63);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_their_aliases_and_round_trip() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()), Some(s));
        }
        assert_eq!(Service::parse("mariadb"), Some(Service::Mysql));
        assert_eq!(Service::parse("postgresql"), Some(Service::Postgres));
        assert_eq!(Service::parse("oracle"), None);
    }

    #[test]
    fn servers_need_an_agent_label_and_sqlite_does_not() {
        assert_eq!(Service::Sqlite.required_label(), None);
        assert_eq!(
            Service::Mysql.required_label(),
            Some(("service.mysql".to_string(), "yes".to_string()))
        );
    }

    #[test]
    fn database_names_are_safe_identifiers() {
        assert_eq!(database_name("t", "r12.j3.s4-a1"), "farm_t_r12_j3_s4_a1");
        assert!(database_name("t", &"x".repeat(100)).len() <= 63);
    }
}
