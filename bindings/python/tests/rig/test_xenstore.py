# SPDX-License-Identifier: LGPL-2.1-or-later
"""XenStore from Python in dom0."""
import asyncio

import pytest

import edera

BASE = "/local/domain/0/edera-py-test"


@pytest.mark.asyncio
async def test_read_write_directory_rm_perms():
    async with edera.Context() as ctx:
        xs = ctx.xs
        await xs.write(BASE + "/a", "1")
        await xs.write(BASE + "/b", b"\x00\x01")
        assert await xs.read(BASE + "/a") == b"1"
        assert await xs.read(BASE + "/b") == b"\x00\x01"
        assert sorted(await xs.directory(BASE)) == ["a", "b"]
        await xs.set_perms(BASE + "/a", [edera.PermEntry(0, edera.Perm.NONE), (1, edera.Perm.READ)])
        perms = await xs.get_perms(BASE + "/a")
        assert perms[1] == edera.PermEntry(1, edera.Perm.READ)
        assert await xs.get_domain_path(0) == "/local/domain/0"
        await xs.rm(BASE)
        with pytest.raises(edera.NotFoundError):
            await xs.read(BASE + "/a")
        assert xs.connected and xs.stats().requests > 0


def test_blocking_forms_and_transaction_sync():
    with edera.Context() as ctx:
        xs = ctx.xs
        xs.write_sync(BASE + "/n", "5")

        def bump(t):
            n = int(t.read_sync(BASE + "/n"))
            t.write_sync(BASE + "/n", str(n + 1))
            return n + 1
        assert xs.transaction_sync(bump) == 6
        assert xs.read_sync(BASE + "/n") == b"6"

        def fail(t):
            t.write_sync(BASE + "/n", "999")
            raise KeyError("abort me")
        with pytest.raises(KeyError):
            xs.transaction_sync(fail)
        assert xs.read_sync(BASE + "/n") == b"6"  # aborted
        xs.rm_sync(BASE)


@pytest.mark.asyncio
async def test_async_transactions_and_watches():
    async with edera.Context() as ctx:
        xs = ctx.xs
        async with xs.watch(BASE) as w:
            it = w.__aiter__()
            assert await asyncio.wait_for(it.__anext__(), 10) == BASE  # the confirmation
            async with xs.transaction() as t:
                await t.write(BASE + "/x", "1")
                await t.write(BASE + "/y", "2")
            changed = await asyncio.wait_for(it.__anext__(), 10)  # the commit's change
            assert type(changed) is str and changed.startswith(BASE)

            async def body(t):
                v = await t.read(BASE + "/x")
                await t.write(BASE + "/x", v + b"!")
                return t.attempt
            assert await xs.run_transaction(body) >= 1
            assert await xs.read(BASE + "/x") == b"1!"
            with pytest.raises(RuntimeError):
                async with xs.transaction() as t:
                    await t.write(BASE + "/x", "lost")
                    raise RuntimeError("abort")
            assert await xs.read(BASE + "/x") == b"1!"
        await xs.rm(BASE)
