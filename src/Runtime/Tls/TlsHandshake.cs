using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// The server side of one TLS handshake over a connection's stream, bounded by the listener's handshake-timeout,
/// with every failure sorted (<see cref="Classify"/>) rather than thrown.
/// </summary>
public static class TlsHandshake
{
    /// <summary>
    /// Runs the server handshake of <paramref name="material"/> over <paramref name="inner"/>: the authenticated
    /// <see cref="SslStream"/>, or how it failed (within the handshake-timeout, or at once when
    /// <paramref name="cancel"/> is cancelled). Never throws for what a client does. The SslStream leaves
    /// <paramref name="inner"/> open: the caller owns the connection and closes it (after the SslStream on success).
    /// The result's <see cref="TlsHandshakeResult.Log"/> is left to <see cref="TlsServer"/>.
    /// </summary>
    public static async Task<TlsHandshakeResult> RunAsync(TlsMaterial material, Stream inner, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(material);
        ArgumentNullException.ThrowIfNull(inner);
        var started = Stopwatch.GetTimestamp();
        var ssl = new SslStream(inner, leaveInnerStreamOpen: true);
        var verdict = material.Options.ClientCertificates == ClientCertificateMode.None ? null : new ClientVerdict(material.Options.ClientCertificates);
        var options = verdict is null ? material.SharedOptions : material.OptionsWith(verdict.Judge);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(material.Options.HandshakeTimeout);
        var handshake = ssl.AuthenticateAsServerAsync(options, deadline.Token);
        try
        {
            // WaitAsync too: an inner stream that ignores the token still cannot hold the handshake past its deadline.
            await handshake.WaitAsync(deadline.Token).ConfigureAwait(false);
            return new TlsHandshakeResult(ssl, TlsHandshakeFailure.None, "", Stopwatch.GetElapsedTime(started), TlsFailureLogDecision.Nothing);
        }
        catch (Exception e)
        {
            // A handshake abandoned at its deadline ends when the stream is disposed; its exception is observed here.
            _ = handshake.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            await ssl.DisposeAsync().ConfigureAwait(false);
            var failure = Classify(e, verdict?.Failure, timedOut: deadline.IsCancellationRequested && !cancel.IsCancellationRequested,
                cancelled: cancel.IsCancellationRequested);
            var detail = verdict?.Detail ?? Innermost(e).Message;
            return new TlsHandshakeResult(null, failure, detail, Stopwatch.GetElapsedTime(started), TlsFailureLogDecision.Nothing);
        }
    }

    /// <summary>
    /// How a handshake that threw <paramref name="error"/> failed: <paramref name="clientCertificate"/> is what the
    /// certificate check decided (when it refused one), <paramref name="timedOut"/> and <paramref name="cancelled"/>
    /// whether the deadline or the caller's token had fired.
    /// </summary>
    public static TlsHandshakeFailure Classify(Exception error, TlsHandshakeFailure? clientCertificate, bool timedOut, bool cancelled)
    {
        if (cancelled) return TlsHandshakeFailure.Cancelled;
        if (timedOut) return TlsHandshakeFailure.Timeout;
        if (clientCertificate is { } refused) return refused;
        return error switch
        {
            AuthenticationException when Innermost(error) is SocketException or IOException or EndOfStreamException => TlsHandshakeFailure.PeerClosed,
            AuthenticationException => TlsHandshakeFailure.Protocol,
            IOException or SocketException or ObjectDisposedException => TlsHandshakeFailure.PeerClosed,
            _ => TlsHandshakeFailure.Other,
        };
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e;
    }

    /// <summary>One handshake's judgement of the client certificate, kept so that a refusal is classified as such.</summary>
    private sealed class ClientVerdict(ClientCertificateMode mode)
    {
        public TlsHandshakeFailure? Failure { get; private set; }
        public string? Detail { get; private set; }

        public bool Judge(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            {
                if (mode == ClientCertificateMode.Optional) return true;
                Failure = TlsHandshakeFailure.ClientCertificateMissing;
                Detail = "the client presented no certificate (client-certificates = required)";
                return false;
            }
            // The server checks no name of a client; the chain (built against the client CA alone) is what counts.
            if ((errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None) return true;
            Failure = TlsHandshakeFailure.ClientCertificateRejected;
            var problems = chain?.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct() ?? [];
            Detail = $"client certificate '{certificate.Subject}' is not signed by the client CA or not valid: {string.Join("; ", problems)} ({errors})";
            return false;
        }
    }
}
