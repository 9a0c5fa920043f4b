import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

/** Sets a SCRAM-SHA-256 and SCRAM-SHA-512 credential for one Kafka user through the Admin API
 *  (AlterUserScramCredentials, which kafkajs lacks). Run with Java's single-file launcher and the broker's class path:
 *    java -cp 'infra/.cache/kafka-<v>/libs/*' services/api/ScramCredentials.java <bootstrap>
 *  and on stdin: user name, password, then any Kafka client properties (key=value, one a line) for reaching a broker
 *  that authenticates its clients (so no secret shows on a command line). Platform names are refused here as well as
 *  by the API (services/common/kafka-principals.ts): a SCRAM user ANONYMOUS would be Kafka's unauthenticated principal. */
public class ScramCredentials {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: ScramCredentials <bootstrap-servers>  (stdin: user, password)");
      System.exit(2);
    }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String user = in.readLine();
    String password = in.readLine();
    if (user == null || user.isEmpty() || password == null || password.isEmpty()) {
      System.err.println("expected a user name and a password on stdin");
      System.exit(2);
    }
    String lower = user.toLowerCase(java.util.Locale.ROOT);
    if (lower.equals("anonymous") || lower.startsWith("voltstream") || lower.startsWith("user:") || lower.startsWith("kafka") || lower.startsWith("admin")
        || lower.startsWith("broker") || lower.startsWith("controller") || user.contains(":")) {
      System.err.println("refusing to set SCRAM credentials for reserved user name \"" + user + "\" (ANONYMOUS in any case, voltstream*, kafka*, admin*, broker*, controller*, names with ':')");
      System.exit(3);
    }
    Properties props = new Properties();
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      int eq = line.indexOf('=');
      if (eq > 0) props.put(line.substring(0, eq), line.substring(eq + 1));
    }
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "40000");
    try (Admin admin = Admin.create(props)) {
      // One mechanism per request: the broker refuses two alterations of one user in the same request.
      for (ScramMechanism m : List.of(ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)) {
        admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user, new ScramCredentialInfo(m, 8192), password))).all().get();
      }
    }
    System.out.println("SCRAM credentials set for " + user);
  }
}
