//! The test macros: [`backend_tests!`] runs one body on every backend, and [`mysql_test!`] /
//! [`postgres_test!`] / [`s3_test!`] run a test when its server is configured. A backend that is
//! not configured turns into an *ignored* test naming the variable to set, never a silent pass
//! (the cfgs come from build.rs).

/// Runs each named `async fn name(backend: Backend)` once per backend, as tests named
/// `sqlite_backend::name`, `mysql_backend::name`, `postgres_backend::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Backend::Sqlite).await }
            )*
        }
        $crate::__mysql_backend_tests!($($name),*);
        $crate::__postgres_backend_tests!($($name),*);
    };
}

#[cfg(ctlstore_mysql)]
#[macro_export]
#[doc(hidden)]
macro_rules! __mysql_backend_tests {
    ($($name:ident),*) => {
        mod mysql_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Backend::Mysql).await }
            )*
        }
    };
}

#[cfg(not(ctlstore_mysql))]
#[macro_export]
#[doc(hidden)]
macro_rules! __mysql_backend_tests {
    ($($name:ident),*) => {
        mod mysql_backend {
            $(
                #[tokio::test]
                #[ignore = "MySQL suite skipped: set CTLSTORE_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306"]
                async fn $name() { super::$name($crate::Backend::Mysql).await }
            )*
        }
    };
}

#[cfg(ctlstore_postgres)]
#[macro_export]
#[doc(hidden)]
macro_rules! __postgres_backend_tests {
    ($($name:ident),*) => {
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Backend::Postgres).await }
            )*
        }
    };
}

#[cfg(not(ctlstore_postgres))]
#[macro_export]
#[doc(hidden)]
macro_rules! __postgres_backend_tests {
    ($($name:ident),*) => {
        mod postgres_backend {
            $(
                #[tokio::test]
                #[ignore = "PostgreSQL suite skipped: set CTLSTORE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432"]
                async fn $name() { super::$name($crate::Backend::Postgres).await }
            )*
        }
    };
}

/// Tests that need an S3-compatible server: run when `CTLSTORE_TEST_S3=moto` (and `moto_server`,
/// from `pip install 'moto[server]'`, is on the PATH), otherwise reported as ignored.
#[cfg(ctlstore_s3)]
#[macro_export]
macro_rules! s3_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$m])*
        async fn $name() $body
    };
}

#[cfg(not(ctlstore_s3))]
#[macro_export]
macro_rules! s3_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test]
        #[ignore = "S3 suite skipped: set CTLSTORE_TEST_S3=moto with moto_server on the PATH (pip install 'moto[server]')"]
        $(#[$m])*
        async fn $name() $body
    };
}

/// A single test that needs MariaDB/MySQL: runs when `CTLSTORE_TEST_MYSQL_URL` is set,
/// otherwise reported as ignored with the reason. Tests that start a [`crate::MariaDbInstance`]
/// of their own use it too: a machine set up for the MySQL suite has the server binaries.
#[cfg(ctlstore_mysql)]
#[macro_export]
macro_rules! mysql_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$m])*
        async fn $name() $body
    };
}

#[cfg(not(ctlstore_mysql))]
#[macro_export]
macro_rules! mysql_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test]
        #[ignore = "MySQL suite skipped: set CTLSTORE_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306"]
        $(#[$m])*
        async fn $name() $body
    };
}

/// A single test that needs PostgreSQL: runs when `CTLSTORE_TEST_POSTGRES_URL` is set,
/// otherwise reported as ignored with the reason. Tests that start a [`crate::PgCluster`] of
/// their own use it too: a machine set up for the PostgreSQL suite has the server binaries.
#[cfg(ctlstore_postgres)]
#[macro_export]
macro_rules! postgres_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$m])*
        async fn $name() $body
    };
}

#[cfg(not(ctlstore_postgres))]
#[macro_export]
macro_rules! postgres_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test]
        #[ignore = "PostgreSQL suite skipped: set CTLSTORE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432"]
        $(#[$m])*
        async fn $name() $body
    };
}
