// AssemblyScript has no exceptions: `throw` and failed assertions call abort(). We replace the default
// `env.abort` import with a plain trap so the module imports nothing but the WIT functions; the host turns
// the trap into PAM_SERVICE_ERR.
export function trap(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}
