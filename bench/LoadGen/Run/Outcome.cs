namespace ShardRuntime.LoadGen.Run;

/// <summary>How one attempt (one request) ended. Every attempt ends in exactly one of these.</summary>
public enum Outcome
{
    /// <summary>The full, right reply arrived within the timeout.</summary>
    Succeeded,

    /// <summary>The connect failed with ECONNREFUSED: no socket listening, or a reuseport socket's queue was reset during connect.</summary>
    Refused,

    /// <summary>ECONNRESET, ECONNABORTED or EPIPE on connect, send or receive: the peer reset the connection.</summary>
    Reset,

    /// <summary>The peer closed the connection cleanly (EOF) before the full reply arrived: also a failure.</summary>
    Closed,

    /// <summary>The connect or the reply took longer than the timeout.</summary>
    TimedOut,

    /// <summary>A full reply arrived but was not the right one (status, body, echoed bytes) or could not be parsed.</summary>
    WrongReply,

    /// <summary>Any other error; its name is tallied (for example AddressNotAvailable when ephemeral ports run out).</summary>
    OtherError,
}
