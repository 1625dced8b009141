package ci;

// One Elasticsearch 8.19 (or 9.x) node in-process, for Freezer's tests of its Elasticsearch/OpenSearch backend
// through the elasticsearch Python client: HTTP on 127.0.0.1:$ES_HTTP_PORT, transport on 127.0.0.1:$ES_TRANSPORT_PORT,
// single-node discovery, no security (the security plugin is part of x-pack, which is not loaded), data under
// $ES_HOME. Stops on SIGTERM (the shutdown hook closes the node).
//
// The node is built the way Elasticsearch's own bootstrap builds it, with the server's public classes:
// PluginsLoader over a modules directory, then new Node(environment, pluginsLoader). The server runs from the
// classpath, so a module is loaded as a classic (non-modular) plugin: $ES_MODULES/<name>/ holds its jars, and
// the launcher installs it under $ES_HOME/modules/<name>/ (links to the jars) with the plugin descriptor that
// the module's jar carries, minus "modulename" (a module layer would need the server as a named module).
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginBundle;
import org.elasticsearch.plugins.PluginsLoader;

public final class EmbeddedElasticsearch {
    private static final String DESCRIPTOR = "plugin-descriptor.properties";

    /** Link the jars of every module of {@code source} into {@code target} and give each its descriptor. */
    private static void installModules(Path source, Path target) throws Exception {
        try (DirectoryStream<Path> modules = Files.newDirectoryStream(source, Files::isDirectory)) {
            for (Path module : modules) {
                String name = module.getFileName().toString();
                Path dir = Files.createDirectories(target.resolve(name));
                byte[] descriptor = null;
                try (DirectoryStream<Path> jars = Files.newDirectoryStream(module, "*.jar")) {
                    for (Path jar : jars) {
                        Path link = dir.resolve(jar.getFileName());
                        if (!Files.exists(link)) {
                            Files.createSymbolicLink(link, jar.toAbsolutePath());
                        }
                        try (JarFile file = new JarFile(jar.toFile())) {
                            ZipEntry entry = file.getEntry("META-INF/es-plugins/" + name + "/" + DESCRIPTOR);
                            if (entry != null) {
                                try (InputStream in = file.getInputStream(entry)) {
                                    descriptor = in.readAllBytes();
                                }
                            }
                        }
                    }
                }
                if (descriptor == null) {
                    throw new IllegalStateException("no jar of module " + module + " carries its " + DESCRIPTOR);
                }
                String text = new String(descriptor, StandardCharsets.UTF_8);
                Files.writeString(dir.resolve(DESCRIPTOR), text.replaceAll("(?m)^modulename=.*$", ""));
            }
        }
    }

    /** The module bundles: loadModulesBundles(Path) in 8.x, loadModulesBundles(Path, isStatelessMode) in 9.x. */
    @SuppressWarnings("unchecked")
    private static Set<PluginBundle> moduleBundles(Path modules) throws Exception {
        for (Method method : PluginsLoader.class.getMethods()) {
            if (method.getName().equals("loadModulesBundles")) {
                Object[] args = {modules, false};
                return (Set<PluginBundle>) method.invoke(null, Arrays.copyOf(args, method.getParameterCount()));
            }
        }
        throw new IllegalStateException("PluginsLoader.loadModulesBundles not found");
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        Path home = Path.of(env.getOrDefault("ES_HOME", System.getProperty("java.io.tmpdir") + "/elasticsearch-home"));
        for (String sub : List.of("data", "logs", "config", "plugins")) {
            Files.createDirectories(home.resolve(sub));
        }
        installModules(Path.of(env.get("ES_MODULES")), home.resolve("modules"));
        Settings settings = Settings.builder()
            .put("cluster.name", "freezer-tests")
            .put("node.name", "ci-node-1")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", env.getOrDefault("ES_HTTP_PORT", "9200"))
            .put("transport.port", env.getOrDefault("ES_TRANSPORT_PORT", "9300"))
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .put("logger.level", "WARN")
            .build();
        // Warnings and errors to the console (the start script's log), no log4j2.properties needed.
        LogConfigurator.configureWithoutConfig(settings);
        long t0 = System.nanoTime();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), home.resolve("config"), () -> "ci-node-1");
        // No server exports: they are qualified exports of the named server module, and here the server is unnamed.
        PluginsLoader plugins = PluginsLoader.createPluginsLoader(
            moduleBundles(environment.modulesDir()), Set.of(), Map.of(), false);
        Node node = new Node(environment, plugins);
        node.start();
        System.out.printf("ELASTICSEARCH READY in %.1f s on http://127.0.0.1:%s%n",
            (System.nanoTime() - t0) / 1e9, settings.get("http.port"));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try { node.close(); } catch (Exception e) { e.printStackTrace(); }
            done.countDown();
        }));
        done.await();
    }
}
