/*
 * Methods the AML reader evaluates (or refuses to), each a device's _CRS,
 * _HID, _UID or _STA: the evaluator's test compares each with acpiexec's
 * evaluation of the same table.
 */
DefinitionBlock ("", "SSDT", 2, "UDRV", "METHODS", 0x00000001)
{
    Name (CNT0, 0x03)
    Name (MODE, 0x01)

    /* Table-level code, as QEMU and real firmware have it. */
    If (LEqual (MODE, One))
    {
        Scope (\_SB)
        {
            Device (CND1)
            {
                Name (_HID, "UDRV0101")
            }
        }
    }
    Else
    {
        Scope (\_SB)
        {
            Device (CND2)
            {
                Name (_HID, "UDRV0102")
            }
        }
    }

    Scope (\_SB)
    {
        OperationRegion (HWRG, SystemMemory, 0xFED00000, 0x400)
        Field (HWRG, DWordAcc, NoLock, Preserve)
        {
            VEND, 32,
            Offset (0x10),
            CTRL, 32
        }

        /* A template patched with CreateDWordField/Store, the usual _CRS. */
        Device (PTCH)
        {
            Name (_HID, EisaId ("PNP0C02"))
            Name (_UID, 0x2A)
            Name (RBUF, ResourceTemplate ()
            {
                Memory32Fixed (ReadWrite, 0x00000000, 0x00000000, _Y00)
                Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, _Y01) {0}
            })
            Method (_CRS, 0, Serialized)
            {
                CreateDWordField (RBUF, \_SB.PTCH._Y00._BAS, BAS0)
                CreateDWordField (RBUF, \_SB.PTCH._Y00._LEN, LEN0)
                CreateDWordField (RBUF, \_SB.PTCH._Y01._INT, INT0)
                Store (0xFEB00000, BAS0)
                Add (0x0800, 0x0800, LEN0)
                Store (Multiply (CNT0, 0x0B), INT0)
                Return (RBUF)
            }
            Method (_STA, 0, NotSerialized)
            {
                Return (0x0F)
            }
        }

        /* Branches on arguments and locals; one method calls another. */
        Device (BRNC)
        {
            Name (_HID, "UDRV0103")
            Method (PICK, 2, NotSerialized)
            {
                If (LGreater (Arg0, Arg1))
                {
                    Return (Subtract (Arg0, Arg1))
                }
                ElseIf (LEqual (Arg0, Arg1))
                {
                    Return (Zero)
                }
                Else
                {
                    Return (ShiftLeft (Arg1, 0x04))
                }
            }
            Method (_CRS, 0, Serialized)
            {
                Name (TBUF, Buffer (0x0E) {})
                Store (0x00, Local0)
                Store (Zero, Local1)
                While (LLess (Local0, 0x04))
                {
                    Add (Local1, PICK (Local0, 0x02), Local1)
                    Increment (Local0)
                }
                CreateWordField (TBUF, 0x00, HDR0)
                CreateByteField (TBUF, 0x02, HDR1)
                /* IO (Decode16, min, max, 1, 8) then the end tag */
                Store (0x0147, HDR0)
                Store (0xF8, HDR1)
                Store (0x03, Index (TBUF, 0x03))
                Store (0xF8, Index (TBUF, 0x04))
                Store (0x03, Index (TBUF, 0x05))
                Store (One, Index (TBUF, 0x06))
                Store (Local1, Index (TBUF, 0x07))
                Store (0x79, Index (TBUF, 0x08))
                /* Copy semantics: Local2 is a copy, patching it leaves TBUF. */
                Store (TBUF, Local2)
                Store (0xFF, Index (Local2, 0x00))
                Return (Concatenate (ToBuffer (Mid (TBUF, 0x00, 0x08)), Buffer (0x02) {0x79, 0x00}))
            }
        }

        /* Packages, DerefOf, SizeOf, ConcatenateResTemplate, EISA IDs from methods. */
        Device (PKGS)
        {
            Method (_HID, 0, NotSerialized)
            {
                Return (EisaId ("PNP0A05"))
            }
            Name (_CID, Package (0x02) { EisaId ("PNP0C02"), "UDRVCID1" })
            Name (TBL, Package (0x03) { 0x10, 0x20, Package (0x01) { 0x30 } })
            Method (_UID, 0, NotSerialized)
            {
                Store (DerefOf (Index (TBL, 0x01)), Local0)
                Add (Local0, DerefOf (Index (DerefOf (Index (TBL, 0x02)), 0x00)), Local0)
                Add (Local0, SizeOf (TBL), Local0)
                Return (Local0)
            }
            Method (_CRS, 0, NotSerialized)
            {
                Store (ResourceTemplate () { IO (Decode16, 0x0060, 0x0060, 0x01, 0x01, ) }, Local0)
                Store (ResourceTemplate () { IO (Decode16, 0x0064, 0x0064, 0x01, 0x01, ) }, Local1)
                Return (ConcatenateResTemplate (Local0, Local1))
            }
        }

        /* What the reader leaves to the kernel: a field, Notify, Sleep, \_OSI. */
        Device (HWRD)
        {
            Name (_HID, "UDRV0104")
            Method (_STA, 0, NotSerialized)
            {
                If (LEqual (VEND, Zero))
                {
                    Return (Zero)
                }
                Return (0x0F)
            }
            Method (_CRS, 0, NotSerialized)
            {
                Notify (\_SB.HWRD, 0x80)
                Return (ResourceTemplate () { IRQNoFlags () {5} })
            }
            Method (_UID, 0, NotSerialized)
            {
                Sleep (0x0A)
                Return (One)
            }
            Method (_CID, 0, NotSerialized)
            {
                If (\_OSI ("Linux"))
                {
                    Return ("UDRVLNX1")
                }
                Return ("UDRVOTH1")
            }
        }

        /* Loops that do not end: bounded, an error naming the table and offset. */
        Device (LOOP)
        {
            Name (_HID, "UDRV0105")
            Method (RECU, 1, NotSerialized)
            {
                Return (RECU (Add (Arg0, One)))
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (RECU (Zero))
            }
            Method (_STA, 0, NotSerialized)
            {
                Store (Zero, Local0)
                While (One)
                {
                    Increment (Local0)
                }
                Return (Local0)
            }
        }
    }
}
