package ci;

// One OpenSearch 2.19 node in-process, for Freezer's tests of its Elasticsearch/OpenSearch backend:
// HTTP on 127.0.0.1:$OS_HTTP_PORT, transport on 127.0.0.1:$OS_TRANSPORT_PORT, single-node discovery,
// no security plugin, data under $OS_HOME. Stops on SIGTERM (the shutdown hook closes the node).
//
// The node is OpenSearch's own Node class with its modules (netty4 transport, common analysis, painless)
// given from the classpath; its protected constructor is what lets classpath plugins in, hence the subclass.
// The test framework's MockNode is not used: with the framework on the classpath OpenSearch expects to run
// inside a randomized-testing context and refuses to start from a plain main().
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

public final class EmbeddedOpenSearch {
    private static final class ClasspathNode extends Node {
        ClasspathNode(Settings settings, Collection<Class<? extends Plugin>> plugins) {
            super(InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "ci-node-1"),
                  plugins, true);
        }
    }

    @SuppressWarnings("unchecked")
    private static Class<? extends Plugin> plugin(String name) throws ClassNotFoundException {
        return (Class<? extends Plugin>) Class.forName(name);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        Path home = Path.of(env.getOrDefault("OS_HOME", System.getProperty("java.io.tmpdir") + "/opensearch-home"));
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));
        Settings settings = Settings.builder()
            .put("cluster.name", "freezer-tests")
            .put("node.name", "ci-node-1")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", env.getOrDefault("OS_HTTP_PORT", "9200"))
            .put("transport.port", env.getOrDefault("OS_TRANSPORT_PORT", "9300"))
            .put("discovery.type", "single-node")
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .build();
        LogConfigurator.configureWithoutConfig(settings);
        List<Class<? extends Plugin>> plugins = List.of(
            plugin("org.opensearch.transport.Netty4Plugin"),
            plugin("org.opensearch.analysis.common.CommonAnalysisPlugin"),
            plugin("org.opensearch.painless.PainlessPlugin"));
        long t0 = System.nanoTime();
        Node node = new ClasspathNode(settings, plugins);
        node.start();
        System.out.printf("OPENSEARCH READY in %.1f s on http://127.0.0.1:%s%n",
            (System.nanoTime() - t0) / 1e9, settings.get("http.port"));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try { node.close(); } catch (Exception e) { e.printStackTrace(); }
            done.countDown();
        }));
        done.await();
    }
}
