//! `exec` probes: a command inside a container through the Docker API.

use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures::StreamExt;

use super::ProbeEnv;
use super::health::first_container;

pub(super) async fn check(env: &ProbeEnv, service: &str, command: &[String]) -> Result<(), String> {
    let c = first_container(env, service).await?;
    let exec = env
        .docker
        .create_exec(
            &c.id,
            ExecConfig {
                cmd: Some(command.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = env
        .docker
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| e.to_string())?
    {
        while let Some(Ok(chunk)) = stream.next().await {
            if output.len() < 512 {
                output.push_str(&chunk.to_string());
            }
        }
    }
    let inspect = env
        .docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| e.to_string())?;
    match inspect.exit_code {
        Some(0) => Ok(()),
        code => Err(format!(
            "exit {} {}",
            code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
            output.trim()
        )),
    }
}
