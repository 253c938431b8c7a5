"""Sources of desired state: a project file (reconciler.toml, meltano.yml) -> DesiredState."""
