# dynex developer recipes; CI runs .ci/run, which these mirror. (`cargo install just` to use them.)
set positional-arguments

# List recipes
_default:
    just --list

# Serve the demo catalog on embedded SQLite and print an API key
[group: 'dev']
demo:
    cargo run -p dynex-server -- --demo

# Run the tests (SQLite; PostgreSQL/MariaDB where DYNEX_TEST_*_URL are set)
[group: 'test']
test *args:
    ./scripts/test "$@"

# Run the tests against the local PostgreSQL and MariaDB too, as CI does
[group: 'test']
test-all *args:
    DYNEX_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
    DYNEX_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
    DYNEX_TEST_REQUIRE_ALL=1 ./scripts/test "$@"

# Check the running API against its OpenAPI description (openapi-spec-validator, Schemathesis)
[group: 'test']
api-fuzz:
    ./scripts/api-fuzz

# Format, lint and test everything (same as CI)
[group: 'check']
ci:
    .ci/run

# Check formatting
[group: 'check']
fmt-check:
    cargo fmt --all -- --check

# Lint with warnings as errors
[group: 'check']
clippy:
    cargo clippy --workspace --all-targets --all-features -- -D warnings

# Build the API docs with warnings as errors (broken intra-doc links too)
[group: 'check']
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps

# List file-level import cycles between the modules of each crate
[group: 'check']
cycles:
    scripts/module-cycles

# Read benchmark: dynex vs a bare actix-web handler (see benches/README.md)
[group: 'bench']
bench-read:
    benches/read.sh
