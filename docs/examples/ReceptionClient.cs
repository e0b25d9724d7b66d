// A minimal reception client for the mynareader network transport (TLS with a client certificate), for mono
// (Debian: mono-devel) and .NET Framework. Build: mcs -r:System.Web.Extensions ReceptionClient.cs
// Usage: MYNAREADER_P12_PASSWORD=... mono ReceptionClient.exe HOST:PORT CLIENT_DIR NAME [count]
//   CLIENT_DIR holds NAME.p12 and ca.pem from 'mynareader tls issue NAME --role reception --out CLIENT_DIR'.
// mono and Windows 10 speak TLS 1.2 at most: the reader then needs [network] min_tls = "1.2".
// On .NET 5+ use System.Text.Json instead of JavaScriptSerializer; the rest is the same.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Web.Script.Serialization;

class ReceptionClient
{
    readonly StreamReader reader;
    readonly StreamWriter writer;
    readonly JavaScriptSerializer json = new JavaScriptSerializer();
    int nextId = 1;
    int results = 0;

    ReceptionClient(Stream stream)
    {
        var utf8 = new UTF8Encoding(false);
        reader = new StreamReader(stream, utf8);
        writer = new StreamWriter(stream, utf8) { NewLine = "\n", AutoFlush = true };
    }

    static SslStream Connect(string host, int port, string dir, string name, string password)
    {
        var ca = new X509Certificate2(Path.Combine(dir, "ca.pem"));
        var identity = new X509Certificate2(Path.Combine(dir, name + ".p12"), password);
        var tcp = new TcpClient(host, port);
        // trust the reader's own CA only: the chain must end at ca.pem, and the name must match
        var ssl = new SslStream(tcp.GetStream(), false, (sender, cert, chain, errors) =>
        {
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
            var check = new X509Chain();
            check.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            check.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
            check.ChainPolicy.ExtraStore.Add(ca);
            var server = new X509Certificate2(cert);
            if (!check.Build(server)) return false;
            var root = check.ChainElements[check.ChainElements.Count - 1].Certificate;
            return root.Thumbprint == ca.Thumbprint && server.Thumbprint != ca.Thumbprint;
        });
        ssl.AuthenticateAsClient(host, new X509CertificateCollection { identity },
                                 SslProtocols.Tls12, false);
        return ssl;
    }

    Dictionary<string, object> Read()
    {
        string line;
        do
        {
            line = reader.ReadLine();
            if (line == null) return null;
        } while (line.Trim().Length == 0);
        return (Dictionary<string, object>)json.DeserializeObject(line);
    }

    object Call(string method, object parameters)
    {
        int id = nextId++;
        writer.WriteLine(json.Serialize(new Dictionary<string, object> {
            { "jsonrpc", "2.0" }, { "id", id }, { "method", method }, { "params", parameters } }));
        while (true)            // events may arrive before the reply: handle them on the way
        {
            var msg = Read();
            if (msg == null) throw new IOException("the reader closed the connection");
            if (msg.ContainsKey("id") && msg["id"] is int && (int)msg["id"] == id)
            {
                if (msg.ContainsKey("error"))
                {
                    var err = (Dictionary<string, object>)msg["error"];
                    var data = (Dictionary<string, object>)err["data"];
                    throw new IOException(data["name"] + ": " + err["message"]);
                }
                return msg["result"];
            }
            OnEvent(msg);
        }
    }

    void OnEvent(Dictionary<string, object> msg)
    {
        if (!msg.ContainsKey("method") || (string)msg["method"] != "result") return;
        var r = (Dictionary<string, object>)msg["params"];
        var consents = new List<string>();
        if (r.ContainsKey("consents") && r["consents"] is IEnumerable)
            foreach (Dictionary<string, object> c in (IEnumerable)r["consents"])
                consents.Add(c["item"] + "=" + (true.Equals(c["value"]) ? "yes" : "no"));
        var identity = (Dictionary<string, object>)r["identity"];
        Console.WriteLine("result session=" + r["session_id"] + " method=" + identity["method"] + " consents="
                          + (consents.Count == 0 ? "-" : string.Join(",", consents)));
        results++;
    }

    static int Main(string[] args)
    {
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: mono ReceptionClient.exe HOST:PORT CLIENT_DIR NAME [count]");
            return 2;
        }
        int colon = args[0].LastIndexOf(':');
        string host = args[0].Substring(0, colon).Trim('[', ']');
        int port = int.Parse(args[0].Substring(colon + 1));
        int wanted = args.Length > 3 ? int.Parse(args[3]) : int.MaxValue;
        string password = Environment.GetEnvironmentVariable("MYNAREADER_P12_PASSWORD") ?? "";
        SslStream ssl;
        try
        {
            ssl = Connect(host, port, args[1], args[2], password);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("cannot reach the reader at " + args[0] + ": " + e.Message);
            return 2;
        }
        using (ssl)
        {
            var client = new ReceptionClient(ssl);
            var hello = (Dictionary<string, object>)client.Call("hello", new Dictionary<string, object>());
            Console.WriteLine("connected: protocol " + hello["protocol"] + ", role " + hello["role"] + ", "
                              + ssl.SslProtocol);
            client.Call("subscribe", new Dictionary<string, object> { { "events", new[] { "result" } } });
            Console.WriteLine("subscribed");
            while (client.results < wanted)
            {
                var msg = client.Read();
                if (msg == null) break;
                client.OnEvent(msg);
            }
        }
        return 0;
    }
}
