<?php
/**
 * Written by testfarm into a shard's task directory, and named as the only file of
 * the shard's test suite: it builds the suite of exactly the tests (farm ids) listed
 * in phpunit-shard.json, each class loaded from its own file. PHPUnit then loads no other
 * test file, runs no other class's data providers and needs no --filter, however many
 * tests the shard holds. Each class is built as PHPUnit itself builds a class of a
 * directory suite, so its set-up, data providers and hooks run as in a full run.
 *
 * The shard's directory is FARM_SHARD_DIR (else this file's own): a PHPUnit worker
 * (FarmWorker.php) serves many shards with one copy of this file.
 *
 * Results go to phpunit-results.jsonl in that directory, one line per test under the
 * farm's id. A test's id is the name PHPUnit's XML gives it (cut at a NUL byte, as
 * XML cannot hold one), with " (2)", " (3)"… on later tests of a class that XML would
 * name alike: the same ids the farm read from --list-tests-xml.
 */

use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\Test;
use PHPUnit\Framework\TestCase;
use PHPUnit\Framework\TestListener;
use PHPUnit\Framework\TestListenerDefaultImplementation;
use PHPUnit\Framework\TestResult;
use PHPUnit\Framework\TestSuite;
use PHPUnit\Framework\Warning;

final class FarmShardSuite extends TestSuite
{
    /** @var array<int,string[]> farm ids of each kept test or data-provider suite */
    private array $ids = [];

    public static function suite(): TestSuite
    {
        $manifest = json_decode(
            (string)file_get_contents(self::dir() . '/phpunit-shard.json'),
            true,
            512,
            JSON_THROW_ON_ERROR
        );
        $shard = new self('testfarm shard');
        foreach ($manifest['classes'] as $entry) {
            require_once $entry['file'];
            $suite = new TestSuite(new ReflectionClass($entry['class']));
            $seen = [];
            $shard->keep($suite, $entry['class'], array_fill_keys($entry['tests'], true), $seen);
            if (count($suite->tests()) > 0) {
                $shard->addTest($suite);
            }
        }
        return $shard;
    }

    public function run(?TestResult $result = null): TestResult
    {
        $result = $result ?? $this->createResult();
        $result->addListener(new FarmShardListener(self::dir() . '/phpunit-results.jsonl', $this->ids));
        return parent::run($result);
    }

    private static function dir(): string
    {
        $dir = getenv('FARM_SHARD_DIR');
        return is_string($dir) && $dir !== '' ? $dir : __DIR__;
    }

    /**
     * Drops the class's tests that the shard was not given, and names the rest with
     * their farm ids.
     *
     * @return string[] the farm ids kept under $suite
     */
    private function keep(TestSuite $suite, string $class, array $wanted, array &$seen): array
    {
        $kept = [];
        $ids = [];
        foreach ($suite->tests() as $test) {
            if ($test instanceof TestSuite) {
                $inner = $this->keep($test, $class, $wanted, $seen);
                if (count($test->tests()) > 0) {
                    $kept[] = $test;
                    $ids = array_merge($ids, $inner);
                }
                continue;
            }
            $name = $test instanceof TestCase ? $test->getName() : get_class($test);
            $nul = strpos($name, "\0");
            $name = $nul === false ? $name : substr($name, 0, $nul);
            if ($test instanceof $class) {
                $id = $class . '::' . $name;
                $seen[$id] = ($seen[$id] ?? 0) + 1;
                if ($seen[$id] > 1) {
                    $id .= ' (' . $seen[$id] . ')';
                }
            } else {
                // PHPUnit's stand-in for a test it could not build (a data provider
                // that skipped or failed) is named `Class::method` already.
                $id = str_contains($name, '::') ? $name : $class . '::' . $name;
            }
            if (isset($wanted[$id])) {
                $kept[] = $test;
                $this->ids[spl_object_id($test)] = [$id];
                $ids[] = $id;
            }
        }
        $suite->setTests($kept);
        $this->ids[spl_object_id($suite)] = $ids;
        return $ids;
    }
}

/** Writes each test's outcome, as the farm names it, when it ends. */
final class FarmShardListener implements TestListener
{
    use TestListenerDefaultImplementation;

    private const SEVERITY = ['passed' => 0, 'skipped' => 1, 'failed' => 2, 'error' => 3];

    /** @var resource */
    private $out;
    /** @var array<int,string[]> */
    private array $ids;
    /** @var array<int,array{string,string}> */
    private array $outcome = [];

    public function __construct(string $path, array $ids)
    {
        $this->out = fopen($path, 'ab');
        $this->ids = $ids;
    }

    public function startTest(Test $test): void
    {
        $this->outcome[spl_object_id($test)] = ['passed', ''];
    }

    public function addError(Test $test, Throwable $t, float $time): void
    {
        $this->mark($test, 'error', $t);
    }

    public function addWarning(Test $test, Warning $e, float $time): void
    {
        // The stage's configuration decides whether a warning fails a run; MediaWiki's
        // (failOnWarning) does, so the farm counts it a failure like any other.
        $this->mark($test, 'failed', $e);
    }

    public function addFailure(Test $test, AssertionFailedError $e, float $time): void
    {
        $this->mark($test, 'failed', $e);
    }

    public function addIncompleteTest(Test $test, Throwable $t, float $time): void
    {
        $this->mark($test, 'skipped', $t);
    }

    public function addRiskyTest(Test $test, Throwable $t, float $time): void
    {
        $this->mark($test, 'failed', $t);
    }

    public function addSkippedTest(Test $test, Throwable $t, float $time): void
    {
        $this->mark($test, 'skipped', $t);
    }

    public function endTest(Test $test, float $time): void
    {
        $key = spl_object_id($test);
        [$status, $message] = $this->outcome[$key] ?? ['passed', ''];
        unset($this->outcome[$key]);
        $ids = $this->ids[$key] ?? [get_class($test) . '::' . ($test instanceof TestCase ? $test->getName() : '?')];
        $each = count($ids) > 0 ? $time / count($ids) : 0.0;
        foreach ($ids as $id) {
            fwrite($this->out, json_encode(
                ['id' => $id, 'status' => $status, 'secs' => $each, 'message' => $message],
                JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES
            ) . "\n");
        }
        fflush($this->out);
    }

    private function mark(Test $test, string $status, Throwable $t): void
    {
        $key = spl_object_id($test);
        $current = $this->outcome[$key] ?? ['passed', ''];
        if (self::SEVERITY[$status] > self::SEVERITY[$current[0]]) {
            $this->outcome[$key] = [$status, substr($t->getMessage(), 0, 4000)];
        }
    }
}
