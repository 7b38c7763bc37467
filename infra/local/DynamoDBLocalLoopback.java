// Starts DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDB Local 3.x has no host option: its DynamoDBProxyServer builds a Jetty `new Server(port)`, whose connector
// listens on every interface. This launcher builds the server from the usual command line (-port, -inMemory,
// -dbPath, -sharedDb, ...), sets the Jetty connector's host to the loopback address before starting it, and never
// starts telemetry. Run it in source-file mode (Java 11+, needs the jdk.compiler module, which Debian's
// openjdk-17-jre-headless ships):
//
//   java -Djava.library.path=<dir>/DynamoDBLocal_lib -cp <dir>/DynamoDBLocal.jar \
//        infra/local/DynamoDBLocalLoopback.java -port 8000 -inMemory -disableTelemetry
//
// The host defaults to 127.0.0.1; override with -Ddynamodb.local.host=<addr>. services.py falls back to the plain
// `-jar DynamoDBLocal.jar` (all interfaces) with a warning when this mode is unavailable.

import java.lang.reflect.Field;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("dynamodb.local.host", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);

        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server jetty = (Server) field.get(proxy);

        int bound = 0;
        for (Connector connector : jetty.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost(host);
                bound++;
            }
        }
        if (bound == 0) {
            System.err.println("DynamoDBLocalLoopback: no Jetty ServerConnector found; refusing to start");
            System.exit(2);
        }

        // safeStart() starts Jetty without the start-up telemetry call that start() makes.
        proxy.safeStart();
        System.out.println("DynamoDB Local listening on " + host + ":" + ((ServerConnector) jetty.getConnectors()[0]).getLocalPort());
        proxy.join();
    }
}
