//! All integration tests in one binary (one link instead of one per file).

mod certify_bundle;
mod certify_keygen;
mod check_common;
mod check_fixtures;
mod check_judge;
mod check_observation;
mod check_props;
mod cli_run;
mod client_bayeux;
mod client_provision;
mod client_rest;
mod client_secrets;
mod client_transport;

mod common_bin;

mod common_server;
mod coverage_embedded;
mod export_config;
mod export_docs;
mod export_har_events;
mod export_run_outputs;
mod golden;
mod hostile_targets;
mod house;
mod lifecycle_env;
mod lifecycle_signal;
mod model_agreement;
mod observe_cli;
mod observe_har;
mod observe_live;
mod observe_proxy;
mod qa_user_journeys;
mod race_cases;
mod refusal_unchanged;
mod report_curl_replay;
mod report_logic;

mod report_support;
mod report_validators;
mod report_writers;
mod runner_cleanup;
mod runner_streaming;
mod schema_cli;
mod schema_fixtures;
mod schema_props;
mod selftest;
mod server_cli;
mod server_deployment;
mod server_faults;
mod server_hostile;
mod server_limits;
mod server_model;
mod server_routing;
mod server_variations;
mod shrink_groups;
