// Creates SCRAM users and ACLs on the secure local Kafka in one Admin client session (a JVM per
// ACL with kafka-acls would take a minute). Run by infra/local/src/secure-kafka.ts as a single-file
// program: java -cp 'jars/kafka/*' SecureSetup.java <client.properties> <plan.tsv>
//
// plan.tsv, one entry per line, tab-separated:
//   user  <name>  <password>                                  SCRAM-SHA-512 and SCRAM-SHA-256 credentials (upsert)
//   acl   <principal> <resource> <pattern> <name> <operation>  ALLOW from any host (creating an existing ACL is a no-op)
// Prints "SECURE_SETUP_DONE users=<n> acls=<n>" on success; exits 1 with the reason otherwise.

import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class SecureSetup {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    try (FileReader r = new FileReader(args[0])) {
      props.load(r);
    }
    // Kafka refuses two alterations of one user in one request: one list per mechanism.
    List<UserScramCredentialAlteration> users512 = new ArrayList<>();
    List<UserScramCredentialAlteration> users256 = new ArrayList<>();
    List<AclBinding> acls = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[1]))) {
      if (line.isBlank() || line.startsWith("#")) continue;
      String[] f = line.split("\t");
      if (f[0].equals("user")) {
        users512.add(new UserScramCredentialUpsertion(f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), f[2]));
        users256.add(new UserScramCredentialUpsertion(f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), f[2]));
      } else if (f[0].equals("acl")) {
        ResourcePattern pattern = new ResourcePattern(ResourceType.fromString(f[2].toUpperCase()), f[4], PatternType.fromString(f[3].toUpperCase()));
        AclOperation op = AclOperation.fromString(f[5].toUpperCase());
        if (pattern.resourceType() == ResourceType.UNKNOWN || pattern.patternType() == PatternType.UNKNOWN || op == AclOperation.UNKNOWN) {
          throw new IllegalArgumentException("bad ACL line: " + line);
        }
        acls.add(new AclBinding(pattern, new AccessControlEntry(f[1], "*", op, AclPermissionType.ALLOW)));
      } else {
        throw new IllegalArgumentException("bad plan line: " + line);
      }
    }
    try (Admin admin = Admin.create(props)) {
      for (List<UserScramCredentialAlteration> users : List.of(users512, users256)) {
        if (!users.isEmpty()) admin.alterUserScramCredentials(users).all().get(60, TimeUnit.SECONDS);
      }
      if (!acls.isEmpty()) admin.createAcls(acls).all().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("SECURE_SETUP_FAILED " + e);
      System.exit(1);
    }
    System.out.println("SECURE_SETUP_DONE users=" + users512.size() + " acls=" + acls.size());
  }
}
