//! `kefu-edge`: the native edge server. Configuration comes from a TOML file (`--config`, or
//! `KEFU_EDGE_CONFIG`), overridable by `EDGE__*` environment variables (`EDGE__CACHE_SECS=2`); see docs/edge.md.

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use std::process::ExitCode;

    use figment::Figment;
    use figment::providers::{Env, Format, Toml};
    use kefu_edge::config::EdgeConfig;

    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mut config_path = std::env::var("KEFU_EDGE_CONFIG").ok();
    let mut listen = std::env::var("KEFU_EDGE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8787".into());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_path = args.next(),
            "--listen" => listen = args.next().unwrap_or(listen),
            other => {
                eprintln!(
                    "kefu-edge: unknown argument {other}; usage: kefu-edge [--config edge.toml] [--listen addr:port]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let mut figment = Figment::new();
    if let Some(path) = &config_path {
        figment = figment.merge(Toml::file(path));
    }
    let config: EdgeConfig = match figment.merge(Env::prefixed("EDGE__").split("__")).extract() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("kefu-edge: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let state = match kefu_edge::native::EdgeState::new(config) {
        Ok(state) => state,
        Err(problems) => {
            for problem in problems {
                eprintln!("kefu-edge: configuration: {problem}");
            }
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("kefu-edge: cannot listen on {listen}: {error}");
            return ExitCode::from(1);
        }
    };
    state.forget_idle_keys();
    tracing::info!(%listen, "kefu-edge listening");
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = kefu_edge::native::routes::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Ctrl-C, or SIGTERM from a container runtime or Kubernetes.
    let shutdown = async {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("kefu-edge: shutting down");
    };
    match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kefu-edge: {error}");
            ExitCode::from(1)
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
