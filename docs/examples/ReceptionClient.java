// A minimal reception client for the mynareader network transport (TLS with a client certificate), JDK 11+ only.
// Usage: MYNAREADER_P12_PASSWORD=... java ReceptionClient.java HOST:PORT CLIENT_DIR NAME [count]
//   CLIENT_DIR holds NAME.p12 and ca.pem from 'mynareader tls issue NAME --role reception --out CLIENT_DIR'.
// Prints one line per result: the session, how identity was confirmed, and the consents.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.KeyStore;
import java.security.cert.*;
import java.util.*;
import javax.net.ssl.*;

public class ReceptionClient {
    private final BufferedReader in;
    private final Writer out;
    private int nextId = 1;

    ReceptionClient(SSLSocket socket) throws IOException {
        in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        out = new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8);
    }

    static SSLSocket connect(String host, int port, Path dir, String name, char[] password) throws Exception {
        KeyStore identity = KeyStore.getInstance("PKCS12");
        try (InputStream f = Files.newInputStream(dir.resolve(name + ".p12"))) {
            identity.load(f, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(identity, password);
        // trust only the reader's own CA, not the system's list
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream f = Files.newInputStream(dir.resolve("ca.pem"))) {
            trust.setCertificateEntry("mynareader-ca", CertificateFactory.getInstance("X.509").generateCertificate(f));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) ctx.getSocketFactory().createSocket(host, port);
        SSLParameters params = socket.getSSLParameters();
        params.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
        params.setEndpointIdentificationAlgorithm("HTTPS");   // the reader's name or IP must be in its certificate
        socket.setSSLParameters(params);
        socket.startHandshake();
        return socket;
    }

    Object call(String method, String paramsJson) throws IOException {
        int id = nextId++;
        out.write("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"" + method + "\",\"params\":" + paramsJson + "}\n");
        out.flush();
        while (true) {                       // events may arrive before the reply: handle them on the way
            Map<String, Object> msg = read();
            if (msg == null) throw new EOFException("the reader closed the connection");
            if (Objects.equals(msg.get("id"), (double) id)) {
                if (msg.containsKey("error")) {
                    Map<?, ?> err = (Map<?, ?>) msg.get("error");
                    throw new IOException(((Map<?, ?>) err.get("data")).get("name") + ": " + err.get("message"));
                }
                return msg.get("result");
            }
            onEvent(msg);
        }
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> read() throws IOException {
        String line;
        do {
            line = in.readLine();
            if (line == null) return null;
        } while (line.isBlank());
        return (Map<String, Object>) new Json(line).value();
    }

    int results = 0;

    void onEvent(Map<String, Object> msg) {
        if (!"result".equals(msg.get("method"))) return;
        Map<?, ?> r = (Map<?, ?>) msg.get("params");
        StringJoiner consents = new StringJoiner(",");
        Object list = r.get("consents");
        for (Object c : list instanceof List ? (List<?>) list : List.of()) {
            Map<?, ?> m = (Map<?, ?>) c;
            consents.add(m.get("item") + "=" + (Boolean.TRUE.equals(m.get("value")) ? "yes" : "no"));
        }
        System.out.println("result session=" + r.get("session_id") + " method="
                + ((Map<?, ?>) r.get("identity")).get("method") + " consents="
                + (consents.length() == 0 ? "-" : consents.toString()));
        results++;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: java ReceptionClient.java HOST:PORT CLIENT_DIR NAME [count]");
            System.exit(2);
        }
        int colon = args[0].lastIndexOf(':');
        String host = args[0].substring(0, colon).replaceAll("^\\[|\\]$", "");
        int port = Integer.parseInt(args[0].substring(colon + 1));
        int wanted = args.length > 3 ? Integer.parseInt(args[3]) : Integer.MAX_VALUE;
        String password = System.getenv().getOrDefault("MYNAREADER_P12_PASSWORD", "");
        SSLSocket socket;
        try {
            socket = connect(host, port, Paths.get(args[1]), args[2], password.toCharArray());
        } catch (Exception e) {
            System.err.println("cannot reach the reader at " + args[0] + ": " + e.getMessage());
            System.exit(2);
            return;
        }
        try (socket) {
            ReceptionClient client = new ReceptionClient(socket);
            Map<?, ?> hello = (Map<?, ?>) client.call("hello", "{}");
            System.out.println("connected: protocol " + hello.get("protocol") + ", role " + hello.get("role")
                    + ", " + socket.getSession().getProtocol());
            client.call("subscribe", "{\"events\":[\"result\"]}");
            System.out.println("subscribed");
            while (client.results < wanted) {
                Map<String, Object> msg = client.read();
                if (msg == null) break;
                client.onEvent(msg);
            }
        }
    }

    /** Just enough JSON for the reader's messages: objects, arrays, strings, numbers (as double), booleans, null. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        Object value() {
            skip();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                skip();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    skip();
                    String k = string();
                    skip();
                    i++;                                     // ':'
                    m.put(k, value());
                    skip();
                    if (s.charAt(i++) == '}') return m;      // else ','
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                skip();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) {
                    l.add(value());
                    skip();
                    if (s.charAt(i++) == ']') return l;
                }
            }
            if (c == '"') return string();
            if (s.startsWith("true", i)) { i += 4; return true; }
            if (s.startsWith("false", i)) { i += 5; return false; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            return Double.parseDouble(s.substring(start, i));
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++;                                             // opening quote
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: b.append(e);                    // \" \\ \/
                }
            }
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
}
