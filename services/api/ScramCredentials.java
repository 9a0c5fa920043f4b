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
 *  and two lines on stdin: user name, password (so the password never shows on a command line). */
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
    Properties props = new Properties();
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
