using System.Runtime.Versioning;

// Reuseport groups, SO_PEERCRED, /proc/net and sock_diag are Linux facilities.
[assembly: SupportedOSPlatform("linux")]
