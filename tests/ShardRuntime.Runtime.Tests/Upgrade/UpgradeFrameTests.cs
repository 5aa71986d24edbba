using System.Buffers.Binary;
using System.Text;
using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Runtime.Tests.Upgrade;

public sealed class UpgradeFrameTests
{
    /// <summary>
    /// Found with the fuzz harness (bench/fuzz.sh upgrade, its replay of hand-written inputs): a null label threw
    /// NullReferenceException where the successor adopts a batch (its sockets left to the finalizer), and a label
    /// without a listener became a socket label with a null name.
    /// </summary>
    [Theory]
    [InlineData("""{"type":"Batch","batch":1,"labels":[null]}""", "The peer sent a Batch frame whose label 0 is missing.")]
    [InlineData("""{"type":"Batch","batch":1,"labels":[{"address":"127.0.0.1","port":1,"listener":"a"},{"address":"1.2.3.4"}]}""",
        "The peer sent a Batch frame whose label 1 has no listener.")]
    [InlineData("""{"type":"Batch","batch":1,"labels":[{"listener":"a","address":null}]}""",
        "The peer sent a Batch frame whose label 0 has no address.")]
    public void Frame_reader_must_refuse_a_batch_with_a_missing_label_or_label_field_naming_it(string json, string expected)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[UpgradeFrame.PrefixLength + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, body.Length);
        body.CopyTo(bytes, UpgradeFrame.PrefixLength);

        var refused = Assert.Throws<UpgradeException>(() => UpgradeFrame.TryDecode(bytes, out _, out _));
        Assert.Equal(expected, refused.Message);
    }
}
