# expect: unknown-port.hcl: ports.htpp: unknown config key
ports {
  htpp = 8500
}
